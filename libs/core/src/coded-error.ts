/** What a CodedError subclass's constructor looks like, so `wrap` can build one. */
export type CodedErrorConstructor<E extends CodedError<string>> = new (code: E["code"], message: string, options?: { cause?: unknown }) => E;

/**
 * The base of each boundary's one error type: a `code` from that boundary's closed set,
 * which callers switch on (exhaustively), and a message that says what was wrong and what
 * to do. The error that led to it is kept as `cause`.
 */
export class CodedError<C extends string> extends Error {
  readonly code: C;

  constructor(code: C, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
  }

  /**
   * `error` itself when it already is one of this class (its code says more than a new
   * one would), otherwise a new one with `code`, the message `context: <error's message>`
   * (or the message alone) and `error` as its cause: `StoreError.wrap(error, "internal")`.
   */
  static wrap<E extends CodedError<string>>(this: CodedErrorConstructor<E>, error: unknown, code: NoInfer<E["code"]>, context?: string): E {
    if (error instanceof this) return error;
    const message = context === undefined ? errorMessage(error) : `${context}: ${errorMessage(error)}`;
    return new this(code, message, { cause: error });
  }
}

/** The message of anything thrown: an Error's message, anything else as text. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
