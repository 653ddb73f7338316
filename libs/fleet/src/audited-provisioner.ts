import type { AuditRepo, Instance } from "@devenv/store";
import type { ProvisionResult, Provisioner } from "./provisioner.ts";

export const provisionedAction = "instance.provisioned";

/**
 * A provisioner that writes each provision and termination to the audit log. The audit
 * event is where the market (spot or on-demand) of a host is kept for the cost view after
 * EC2 has forgotten the host: the catalogue has no column for it.
 */
export function withAudit(provisioner: Provisioner, audit: AuditRepo, actor = "system:fleet"): Provisioner {
  return {
    kind: provisioner.kind,
    async provision(instance: Instance, joinToken: string): Promise<ProvisionResult> {
      const result = await provisioner.provision(instance, joinToken);
      await audit.record({
        actor,
        action: provisionedAction,
        subject: `instance:${instance.id}`,
        detail: {
          provisioner: provisioner.kind,
          ownerId: instance.ownerId,
          providerId: result.providerId ?? null,
          market: result.market ?? null,
        },
      });
      return result;
    },
    async terminate(instance: Instance): Promise<void> {
      await provisioner.terminate(instance);
      await audit.record({
        actor,
        action: "instance.host-terminated",
        subject: `instance:${instance.id}`,
        detail: { provisioner: provisioner.kind, providerId: instance.providerId },
      });
    },
  };
}
