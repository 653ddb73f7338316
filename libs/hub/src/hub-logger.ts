/** The slice of a pino logger the hub writes to; a pino instance fits as is. */
export interface HubLogger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export const silentLogger: HubLogger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};
