/**
 * Version of the agent <-> control-plane wire protocol.
 *
 * History:
 *   1 — first version.
 */
export const protocolVersion = 1;
