import type { AgentReports } from "../store-hub-backend.ts";

/** Agent reports nobody acts on: for hub tests about transport, where no instance policy is wanted. */
export const unheardReports: AgentReports = {
  agentRegistered: async () => {},
  agentConnected: async () => {},
  agentLifecycle: async () => {},
  agentHeartbeat: async () => {},
  agentProgress: async () => {},
  agentResult: async () => {},
  assignmentDelivered: async () => {},
};
