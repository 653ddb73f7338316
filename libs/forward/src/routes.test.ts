import { describe, expect, it } from "vitest";
import { describeRoute, parseRouteTarget } from "./routes.ts";

describe("parseRouteTarget", () => {
  it("reads direct and tunnel targets", async () => {
    expect(await parseRouteTarget("direct:10.0.0.5:9042")).toEqual({ kind: "direct", host: "10.0.0.5", port: 9042 });
    expect(await parseRouteTarget("direct:[::1]:9043")).toEqual({ kind: "direct", host: "::1", port: 9043 });
    expect(await parseRouteTarget("tunnel:wss://cp.example.com/tunnel/i-1", { tunnelToken: "t" })).toEqual({
      kind: "tunnel",
      url: "wss://cp.example.com/tunnel/i-1",
      token: "t",
    });
  });

  it.each([
    ["direct:db", 'a direct: target must be HOST:PORT with a port from 1 to 65535, got "db"'],
    ["direct:db:0", 'a direct: target must be HOST:PORT with a port from 1 to 65535, got "db:0"'],
    ["direct:db:65536", 'a direct: target must be HOST:PORT with a port from 1 to 65535, got "db:65536"'],
    ["direct:::1:9042", 'a direct: target must be HOST:PORT with a port from 1 to 65535, got "::1:9042"'],
    ["tunnel:https://cp/x", 'a tunnel: target must be a ws:// or wss:// URL, got "https://cp/x"'],
    ["ftp://x", 'unknown target "ftp://x": use shared, mine, an instance id, direct:HOST:PORT or tunnel:wss://…'],
  ])("rejects %s", async (target, message) => {
    await expect(parseRouteTarget(target, { tunnelToken: "t" })).rejects.toMatchObject({ code: "bad-target", message });
  });

  it("needs a token for a tunnel", async () => {
    await expect(parseRouteTarget("tunnel:wss://cp/x")).rejects.toThrow("a tunnel: target needs a token: set DEVENV_TOKEN");
  });

  it("hands names to the resolver, and says to log in when there is none", async () => {
    await expect(parseRouteTarget("shared")).rejects.toMatchObject({
      code: "not-logged-in",
      message: '"shared" is looked up on the control plane: run `devenv login --server URL --token T` first (or use direct:HOST:PORT)',
    });
    const asked: string[] = [];
    const route = await parseRouteTarget("mine", {
      resolveName: async (name) => {
        asked.push(name);
        return { kind: "direct", host: "10.1.2.3", port: 9042 };
      },
    });
    expect(asked).toEqual(["mine"]);
    expect(describeRoute(route)).toBe("direct:10.1.2.3:9042");
  });
});
