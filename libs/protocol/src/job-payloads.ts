import { z } from "zod";

/**
 * What a shrink job needs: where production (a restored backup) is, which rules to
 * apply, and what to keep. The rules file is read on the host that runs the job and
 * names where the pseudonym secret comes from; the secret never travels in a payload.
 */
export const ShrinkJobPayload = z.strictObject({
  source: z.strictObject({
    contactPoints: z.array(z.string().regex(/^[^\s:]+(:\d{1,5})?$/, "host or host:port")).min(1).max(16),
    localDataCenter: z.string().min(1).max(100).default("datacenter1"),
    keyspace: z.string().regex(/^[a-zA-Z][a-zA-Z0-9_]{0,47}$/, "a Cassandra keyspace name"),
  }),
  /** Path of the rules YAML on the job runner's host. */
  rulesFile: z.string().min(1).max(4096),
  /** Keep exactly this organisation (a customer reproduction) instead of the rules' selection. */
  org: z.string().min(1).max(200).optional(),
  /** ISO instant; event tables keep keepDays before it. Default: when the job runs. */
  asOf: z.iso.datetime({ offset: true }).optional(),
  snapshotId: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9._-]{0,127}$/).optional(),
  /** Token-range parts the scan is split into, each a task any runner may lease. Default 4 (never more than the chunks). */
  tasks: z.number().int().min(1).max(256).optional(),
});
export type ShrinkJobPayload = z.infer<typeof ShrinkJobPayload>;

/** One part of a shrink job: scans its share of the token ranges into the work area. */
export const ShrinkTaskPayload = z.strictObject({
  snapshotId: ShrinkJobPayload.shape.snapshotId.unwrap(),
  part: z.number().int().min(0).max(255),
  source: ShrinkJobPayload.shape.source,
  /** The rules file on the runner's host: it names where this host finds the pseudonym secret. */
  rulesFile: ShrinkJobPayload.shape.rulesFile,
});
export type ShrinkTaskPayload = z.infer<typeof ShrinkTaskPayload>;

/** A new snapshot from the configured source, rolled out to developer instances. */
export const RefreshJobPayload = z.strictObject({
  shrink: ShrinkJobPayload,
  /** Instances restored at once. */
  concurrency: z.number().int().min(1).max(64).default(4),
  /** Only these instances (e.g. one developer's `/devenv refresh`); default: every ready personal instance. */
  instanceIds: z.array(z.string().min(1).max(200)).max(10_000).optional(),
});
export type RefreshJobPayload = z.infer<typeof RefreshJobPayload>;

export const RefreshedInstance = z.object({
  instanceId: z.string(),
  ok: z.boolean(),
  error: z.string().optional(),
});
export const RefreshJobResult = z.object({
  snapshotId: z.string(),
  instances: z.array(RefreshedInstance),
});
export type RefreshJobResult = z.infer<typeof RefreshJobResult>;
