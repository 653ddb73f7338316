import type { ProvisionersConfig } from "@devenv/fleet";

// Interim shape of the resolved server settings; the config loader replaces this file.
export interface ServerSettings {
  dataDir: string;
  host: string;
  port: number;
  publicUrl: string | undefined;
  databaseUrl: string | undefined;
  blobs: { kind: "local"; dir: string } | { kind: "s3"; bucket: string; prefix: string; region: string; endpoint: string | undefined };
  urlSigningKey: string | undefined;
  sources: { name: string; contactPoints: string[]; keyspace: string; rules: string; localDataCenter: string }[];
  slack: { signingSecret: string; teamId: string | undefined } | undefined;
  reaper: { ttlMs: number; maxTtlMs: number; idleLimitMs: number; warnBeforeMs: number };
  quota: { instancesPerUser: number | undefined };
  jobs: { concurrency: number; taskConcurrency: number; pollMs: number; rolloutTimeoutMs: number };
  intervals: { heartbeatMs: number; maintenanceMs: number; schedulerMs: number; agentSupervisionMs: number };
  provisioners: ProvisionersConfig;
  sourceOf: Record<string, string>;
}
