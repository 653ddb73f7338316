export { defaultCacheDir, defaultCassandraVersion } from "./cache-dir.ts";
export type { CommandResult, CommandRunner } from "./command-runner.ts";
export { processRunner } from "./command-runner.ts";
export { CassandraNodeError, cassandraNodeErrorCodes, type CassandraNodeErrorCode, type CliCode } from "./errors.ts";
export { findJava, type JavaRuntime } from "./java.ts";
export { cassandraLibDir, resolveCassandraJars, type CassandraJars, type ResolveJarsOptions } from "./jars.ts";
export { localDataCenter } from "./node-files.ts";
export type { NodeRecord } from "./node-state.ts";
export {
  cassandraNodeStatus,
  defaultNativePort,
  startCassandraNode,
  stopCassandraNode,
  type CassandraNodeOptions,
  type CassandraNodeState,
  type CassandraNodeStatus,
  type RunningCassandraNode,
  type StartNodeOptions,
  type StopNodeOptions,
  type StoppedCassandraNode,
} from "./node.ts";
export { residentBytes } from "./processes.ts";
export { freePort } from "./ports.ts";
