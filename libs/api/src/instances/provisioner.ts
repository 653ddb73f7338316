import type { AssignMessage } from "@devenv/protocol";
import type { Instance, ProvisionerKind } from "@devenv/store";

/** What a provisioner learnt about the host it started. */
export interface ProvisionedHost {
  providerId?: string;
  hostAddress?: string;
  hostPort?: number;
}

/**
 * Starts and ends the host of an instance. `provision` hands the host its one-time join
 * token (the agent exchanges it for a credential when it registers); it may take minutes,
 * so the API runs it in the background. `terminate` must be safe to call again.
 */
export interface Provisioner {
  readonly kind: ProvisionerKind;
  provision(instance: Instance, joinToken: string): Promise<ProvisionedHost | void>;
  terminate(instance: Instance): Promise<void>;
}

/** An assign command as the API hands it over; the hub gives it its command id. */
export type AssignCommandDraft = Omit<AssignMessage, "commandId">;

/**
 * Delivers commands to agents: the agent hub (`AgentHub.sendCommand`) persists the
 * command in the agent's outbox and pushes it when the agent is connected.
 */
export interface AgentCommandSender {
  sendCommand(agentId: string, draft: AssignCommandDraft, options: { idempotencyKey?: string }): Promise<{ commandId: string }>;
}
