import { freePort as freePortOn } from "@devenv/cassandra-node";

/** A port that was free a moment ago on the given loopback address. */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return freePortOn(host);
}
