/**
 * Named failure types. Every error a user can cause names the input and what was expected;
 * the CLI maps `InputError` to exit code 2, Temporal activities map it to a non-retryable failure.
 */
export class InputError extends Error {
  override readonly name = 'InputError';
  /** The input at fault: a flag, a file path, a manifest field, a node name. */
  readonly input: string;
  constructor(input: string, message: string, options?: { cause?: unknown }) {
    super(`${input}: ${message}`, options);
    this.input = input;
  }
}

/** A feature that is planned but not built yet: refused with a clear message, never faked. */
export class NotAvailableError extends Error {
  override readonly name = 'NotAvailableError';
}
