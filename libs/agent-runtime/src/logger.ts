/** Structured log lines (one JSON object a line on stderr by default); tests pass their own. */
export interface AgentLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

export const silentLogger: AgentLogger = { info() {}, warn() {}, error() {} };

export function jsonLogger(write: (line: string) => void = (line) => process.stderr.write(line)): AgentLogger {
  const log = (level: string) => (fields: Record<string, unknown>, message: string) => {
    const err = fields.err instanceof Error ? { err: fields.err.message } : {};
    write(`${JSON.stringify({ level, time: new Date().toISOString(), msg: message, ...fields, ...err })}\n`);
  };
  return { info: log("info"), warn: log("warn"), error: log("error") };
}
