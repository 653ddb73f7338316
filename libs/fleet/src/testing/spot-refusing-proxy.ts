import { createServer, request, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** RunInstances as the proxy saw it. */
export interface SeenLaunch {
  market: "spot" | "on-demand";
  /** Undefined when the call left it to the launch template. */
  instanceType: string | undefined;
  subnet: string | undefined;
  clientToken: string | undefined;
  /** The error code the proxy answered with; undefined when the call went on to moto. */
  refusedWith: string | undefined;
}

/** Which RunInstances calls to refuse and how; an unset field matches any value. */
export interface LaunchRefusal {
  market?: "spot" | "on-demand";
  instanceType?: string;
  subnet?: string;
  /** EC2's error code, e.g. InsufficientInstanceCapacity or InsufficientFreeAddressesInSubnet. */
  code: string;
  /** HTTP status of the refusal (default: EC2's, 500 for its server-side capacity codes, else 400). */
  status?: number;
  /** How many matching calls to refuse (default: all). */
  times?: number;
}

// EC2 answers these with a 5xx status, which the SDK retries by itself (same ClientToken)
const ec2ServerErrorCodes = ["InsufficientInstanceCapacity", "InsufficientAddressCapacity", "InsufficientHostCapacity", "InternalError", "Unavailable"];

export interface SpotRefusingProxy {
  endpoint: string;
  /** How many RunInstances calls were refused (the SDK's own retries included). */
  readonly refused: number;
  /** Every Action the proxy saw, in order. */
  readonly actions: string[];
  /** Every RunInstances the proxy saw, in order, refused or not (the SDK's own retries included). */
  readonly launches: SeenLaunch[];
  /** The launches the client asked for: `launches` without the SDK's retries of a 5xx answer (same ClientToken back to back). */
  readonly tries: SeenLaunch[];
  close(): Promise<void>;
}

/**
 * A real HTTP server in front of moto that answers RunInstances the way EC2 does when it
 * has no capacity (moto never refuses) and forwards every other request untouched.
 * By default it refuses spot launches (`refuseSpot` of them, default all) with `code`;
 * `refusals` instead names what to refuse by market, instance type and subnet (the first
 * matching rule answers).
 */
export async function startSpotRefusingProxy(
  target: string,
  options: { code?: string; status?: number; refuseSpot?: number; refusals?: readonly LaunchRefusal[] } = {},
): Promise<SpotRefusingProxy> {
  const rules = (
    options.refusals ?? [{ market: "spot", code: options.code ?? "InsufficientInstanceCapacity", status: options.status, times: options.refuseSpot }]
  ).map((rule) => ({ ...rule, left: rule.times ?? Number.POSITIVE_INFINITY }));
  let refused = 0;
  const actions: string[] = [];
  const launches: SeenLaunch[] = [];
  const targetUrl = new URL(target);

  const server: Server = createServer((incoming, outgoing) => {
    void readBody(incoming).then((body) => {
      const params = new URLSearchParams(body.toString("utf8"));
      const action = params.get("Action") ?? "?";
      actions.push(action);
      if (action === "RunInstances") {
        const launch: SeenLaunch = {
          market: params.get("InstanceMarketOptions.MarketType") === "spot" ? "spot" : "on-demand",
          instanceType: params.get("InstanceType") ?? undefined,
          subnet: params.get("SubnetId") ?? undefined,
          clientToken: params.get("ClientToken") ?? undefined,
          refusedWith: undefined,
        };
        launches.push(launch);
        const rule = rules.find(
          (candidate) =>
            candidate.left > 0 &&
            (candidate.market === undefined || candidate.market === launch.market) &&
            (candidate.instanceType === undefined || candidate.instanceType === launch.instanceType) &&
            (candidate.subnet === undefined || candidate.subnet === launch.subnet),
        );
        if (rule) {
          rule.left -= 1;
          refused += 1;
          launch.refusedWith = rule.code;
          outgoing.writeHead(rule.status ?? (ec2ServerErrorCodes.includes(rule.code) ? 500 : 400), { "content-type": "text/xml;charset=UTF-8" });
          outgoing.end(
            `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${rule.code}</Code><Message>We currently do not have sufficient capacity in the Availability Zone you requested.</Message></Error></Errors><RequestID>refused-${refused}</RequestID></Response>`,
          );
          return;
        }
      }
      const forward = request(
        { host: targetUrl.hostname, port: targetUrl.port, method: incoming.method, path: incoming.url, headers: { ...incoming.headers, host: targetUrl.host } },
        (answer) => {
          outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(outgoing);
        },
      );
      forward.on("error", (error) => {
        outgoing.writeHead(502);
        outgoing.end(String(error));
      });
      forward.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    get refused() {
      return refused;
    },
    actions,
    launches,
    get tries() {
      return launches.filter((launch, index) => launch.clientToken === undefined || launch.clientToken !== launches[index - 1]?.clientToken);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function readBody(incoming: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of incoming) parts.push(part as Buffer);
  return Buffer.concat(parts);
}
