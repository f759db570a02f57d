import { InputError, NotAvailableError } from '../engine/errors.ts';

/** Exit codes of every command: 0 ok, 1 check failed, 2 usage or input error, 3 internal failure. */
export const EXIT = { ok: 0, checkFailed: 1, usage: 2, internal: 3 } as const;

/** The one place that turns a thrown error into a message and an exit code. */
export function exitCodeFor(err: unknown, stderr: NodeJS.WritableStream = process.stderr): number {
  if (err instanceof InputError || err instanceof NotAvailableError) {
    stderr.write(`fiberscope: ${err.message}\n`);
    return EXIT.usage;
  }
  const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
  stderr.write(`fiberscope: internal error: ${message}\n`);
  return EXIT.internal;
}
