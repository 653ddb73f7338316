import { createServer, request, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface SpotRefusingProxy {
  endpoint: string;
  /** How many spot RunInstances calls were refused. */
  readonly refused: number;
  /** Every Action the proxy saw, in order. */
  readonly actions: string[];
  close(): Promise<void>;
}

/**
 * A real HTTP server in front of moto that answers spot RunInstances the way EC2 does when
 * it has no spot capacity (moto never refuses) and forwards every other request untouched.
 * `refuseSpot` says how many spot launches to refuse (default: all).
 */
export async function startSpotRefusingProxy(
  target: string,
  options: { code?: string; status?: number; refuseSpot?: number } = {},
): Promise<SpotRefusingProxy> {
  const code = options.code ?? "InsufficientInstanceCapacity";
  const status = options.status ?? 500;
  let refused = 0;
  const actions: string[] = [];
  const targetUrl = new URL(target);

  const server: Server = createServer((incoming, outgoing) => {
    void readBody(incoming).then((body) => {
      const params = new URLSearchParams(body.toString("utf8"));
      const action = params.get("Action") ?? "?";
      actions.push(action);
      const spot = action === "RunInstances" && params.get("InstanceMarketOptions.MarketType") === "spot";
      if (spot && refused < (options.refuseSpot ?? Number.POSITIVE_INFINITY)) {
        refused += 1;
        outgoing.writeHead(status, { "content-type": "text/xml;charset=UTF-8" });
        outgoing.end(
          `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${code}</Code><Message>There is no Spot capacity available that matches your request.</Message></Error></Errors><RequestID>refused-${refused}</RequestID></Response>`,
        );
        return;
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
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function readBody(incoming: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of incoming) parts.push(part as Buffer);
  return Buffer.concat(parts);
}
