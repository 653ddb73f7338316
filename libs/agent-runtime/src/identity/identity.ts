import { hostname as osHostname } from "node:os";
import { z } from "zod";
import { AgentIdentity } from "@devenv/protocol";
import type { InstanceMetadata } from "./instance-metadata.ts";

/** The parts of the instance identity document the agent reports. */
const IdentityDocument = z.object({
  instanceId: z.string().min(1),
  instanceType: z.string().min(1),
  region: z.string().min(1),
  availabilityZone: z.string().min(1),
});

export type IdentitySource =
  | { provider: "ec2"; metadata: InstanceMetadata; hostname?: string }
  | { provider: "local" | "static"; instanceId?: string; instanceType?: string; region?: string; zone?: string; hostname?: string };

/**
 * Who this host is. On EC2 the instance metadata says (IMDSv2): id, type, region, zone
 * from the identity document and spot or on-demand from `instance-life-cycle`. Elsewhere
 * the configuration says, and the hostname fills in.
 */
export async function resolveIdentity(source: IdentitySource): Promise<AgentIdentity> {
  const hostname = source.hostname ?? osHostname();
  if (source.provider !== "ec2") {
    return AgentIdentity.parse({
      provider: source.provider,
      hostname,
      instanceId: source.instanceId,
      instanceType: source.instanceType,
      region: source.region,
      zone: source.zone,
    });
  }
  const text = await source.metadata.getRequired("/latest/dynamic/instance-identity/document");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`the instance identity document from ${source.metadata.endpoint} is not JSON: ${(error as Error).message}`);
  }
  const parsed = IdentityDocument.safeParse(json);
  if (!parsed.success) {
    throw new Error(`the instance identity document from ${source.metadata.endpoint} lacks ${parsed.error.issues.map((i) => i.path.join(".")).join(", ")}`);
  }
  const lifeCycle = (await source.metadata.get("/latest/meta-data/instance-life-cycle"))?.trim();
  const document = parsed.data;
  return AgentIdentity.parse({
    provider: "ec2",
    hostname,
    instanceId: document.instanceId,
    instanceType: document.instanceType,
    region: document.region,
    zone: document.availabilityZone,
    // "scheduled" instances are neither; only the two the protocol knows are reported
    lifecycle: lifeCycle === "spot" ? "spot" : lifeCycle === "on-demand" ? "on-demand" : undefined,
  });
}
