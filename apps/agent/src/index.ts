// Wiring for this app arrives with its own issue; the project exists so the workspace graph is whole.
export {};
