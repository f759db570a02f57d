import { describeFailure } from './failures.ts';
import type { FailureContext } from './failures.ts';
import type { FailureKind } from '../runs/failures.ts';

/**
 * Exit codes of every command (README "Exit codes"): 0 ok, 1 check failed, 2 usage, input or
 * configuration error, 3 internal failure, 4 a service outage or a failed run (resumable).
 */
export const EXIT = { ok: 0, checkFailed: 1, usage: 2, internal: 3, outage: 4 } as const;

const EXIT_OF: Record<FailureKind, number> = {
  input: EXIT.usage,
  'bundle-invalid': EXIT.usage,
  'not-available': EXIT.usage,
  'storage-credentials': EXIT.usage,
  'storage-bucket-missing': EXIT.usage,
  'temporal-namespace-missing': EXIT.usage,
  'storage-unreachable': EXIT.outage,
  'temporal-unreachable': EXIT.outage,
  'worker-lost': EXIT.outage,
  'timed-out': EXIT.outage,
  cancelled: EXIT.outage,
  failed: EXIT.outage,
  internal: EXIT.internal,
};

export function exitCodeOf(kind: FailureKind): number {
  return EXIT_OF[kind];
}

export interface ReportOptions {
  stderr?: NodeJS.WritableStream;
  /** Also print every error of the chain with its stack (the global --verbose). */
  verbose?: boolean;
  context?: FailureContext;
}

/**
 * The one place that turns a thrown error into a message on stderr and an exit code: one message,
 * no stack unless verbose. Commands that know more (a run id, what is kept) pass it as context.
 */
export function exitCodeFor(err: unknown, opts: ReportOptions = {}): number {
  const stderr = opts.stderr ?? process.stderr;
  const failure = describeFailure(err, opts.context);
  const hint = failure.kind === 'internal' && !opts.verbose ? ' (run again with --verbose for the stack)' : '';
  stderr.write(`fiberscope: ${failure.message}${hint}\n`);
  if (opts.verbose) stderr.write(`${failure.detail}\n`);
  return exitCodeOf(failure.kind);
}
