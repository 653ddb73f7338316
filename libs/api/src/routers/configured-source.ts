import type { ConfiguredShrink, ShrinkJobPayload } from "@devenv/protocol";
import { ApiError } from "../api-error.ts";
import type { ShrinkSource } from "../trpc.ts";

/** The shrink of a source the config names (the first one by default), as a job payload. */
export function configuredShrink(sources: readonly ShrinkSource[], request: ConfiguredShrink): ShrinkJobPayload {
  const source = request.source === undefined ? sources[0] : sources.find((candidate) => candidate.name === request.source);
  if (source === undefined) {
    throw new ApiError(
      sources.length === 0 ? "unavailable" : "not-found",
      sources.length === 0
        ? "this control plane names no source to shrink: add `sources:` to its config file, or give the source and rules file (devenv snapshots create --source-keyspace K --rules FILE)"
        : `no source ${request.source} in the control plane's config; it has ${sources.map((s) => s.name).join(", ")}`,
    );
  }
  return {
    source: { contactPoints: source.contactPoints, localDataCenter: source.localDataCenter, keyspace: source.keyspace },
    rulesFile: source.rules,
    ...(request.org !== undefined ? { org: request.org } : {}),
    ...(request.asOf !== undefined ? { asOf: request.asOf } : {}),
    ...(request.snapshotId !== undefined ? { snapshotId: request.snapshotId } : {}),
    ...(request.tasks !== undefined ? { tasks: request.tasks } : {}),
  };
}
