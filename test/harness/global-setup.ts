import type { TestProject } from "vitest/node";
import { startCassandraService } from "./cassandra.ts";
import { startMoto } from "./moto.ts";
import { startPostgres } from "./postgres.ts";
import type { RunningService } from "./service.ts";
import type { ServicesInfo } from "@devenv/testing";

type ServiceName = keyof ServicesInfo;

/** Which real services each project's tests talk to; unlisted projects get all of them. */
const needsByProject: Record<string, ServiceName[]> = {
  protocol: [],
  testing: [],
  core: [],
  "cassandra-node": ["cassandra"],
  fixtures: ["cassandra"],
  cli: ["cassandra"],
  forward: ["cassandra"],
  hub: ["postgres"],
  store: ["postgres"],
  "agent-runtime": ["cassandra"],
  agent: ["cassandra"],
  jobs: ["cassandra"],
  fleet: ["moto"],
  api: [],
  "control-plane": ["postgres", "moto"],
  "control-plane-app": [],
};
const allServices: ServiceName[] = ["cassandra", "moto", "postgres"];

const starters: { [K in ServiceName]: () => Promise<RunningService<ServicesInfo[K]>> } = {
  cassandra: () => startCassandraService(),
  moto: () => startMoto(),
  postgres: () => startPostgres(),
};

/**
 * Vitest runs this once per project, all in the main process; the registry on
 * globalThis makes each service start once per run and stop after the last project.
 */
interface Registry {
  running: Map<ServiceName, Promise<RunningService<unknown>>>;
  users: number;
}
const registryKey = Symbol.for("devenv.test.services");
function registry(): Registry {
  const holder = globalThis as { [registryKey]?: Registry };
  holder[registryKey] ??= { running: new Map(), users: 0 };
  return holder[registryKey];
}

function ensure<K extends ServiceName>(name: K): Promise<RunningService<ServicesInfo[K]>> {
  const { running } = registry();
  let service = running.get(name);
  if (!service) {
    const started = Date.now();
    service = starters[name]().then((s) => {
      const how = s.startedHere ? `started in ${((Date.now() - started) / 1000).toFixed(1)} s` : "reused";
      process.stderr.write(`[services] ${name} ${how}: ${JSON.stringify(s.info)}\n`);
      return s;
    });
    running.set(name, service);
  }
  return service as Promise<RunningService<ServicesInfo[K]>>;
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const reg = registry();
  reg.users += 1;
  const needs = needsByProject[project.name] ?? allServices;
  // start independent services side by side: Cassandra's JVM start dominates
  const started = await Promise.all(needs.map(async (name) => [name, (await ensure(name)).info] as const));
  const info = Object.fromEntries(started) as Partial<ServicesInfo>;
  project.provide("services", info as ServicesInfo);

  return async () => {
    reg.users -= 1;
    if (reg.users > 0) return;
    const all = [...reg.running.values()];
    reg.running.clear();
    await Promise.allSettled(all.map(async (s) => (await s).stop()));
  };
}
