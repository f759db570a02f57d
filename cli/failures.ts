import { chainOf, classifyFailure, locateFailure } from '../runs/failures.ts';
import type { FailureKind } from '../runs/failures.ts';

/** What the command that met the failure knows beyond the error itself. */
export interface FailureContext {
  runId?: string;
  phase?: string;
  shard?: string;
  /** What the store holds of the run, in words ("2 of 6 shards done, …"). */
  kept?: string;
  /** The exact command that finishes the run. */
  resume?: string;
}

export interface DescribedFailure {
  kind: FailureKind;
  /** The cause in plain words, one line, no stack. */
  cause: string;
  runId: string | null;
  phase: string | null;
  shard: string | null;
  /** The whole message: where and why, then (for a run) what is kept and how to finish it. */
  message: string;
  /** Every error of the chain with its stack, for --verbose. */
  detail: string;
}

/** Secrets the environment holds never reach a message, whatever a server put in its error text. */
function redact(text: string, env: NodeJS.ProcessEnv): string {
  const secrets = [env.FIBERSCOPE_S3_SECRET_KEY, env.AWS_SECRET_ACCESS_KEY, env.AWS_SESSION_TOKEN].filter((s): s is string => s !== undefined && s.length >= 4);
  return secrets.reduce((t, s) => t.split(s).join('***'), text);
}

/**
 * The one reading of a failure for every command: its kind and exit code, where it happened (from a
 * RunFailedError or the audit workflow's AuditStepFailed in the chain, or the context), the cause in
 * plain words, and for a run what is kept and the command that finishes it.
 */
export function describeFailure(err: unknown, context: FailureContext = {}, env: NodeJS.ProcessEnv = process.env): DescribedFailure {
  const chain = chainOf(err);
  const at = locateFailure(chain);
  const runId = context.runId ?? at.runId ?? null;
  // The error knows where it stopped; the command's own view (the last progress it saw) may lag.
  const phase = at.phase ?? context.phase ?? null;
  const shard = at.shard ?? context.shard ?? null;
  const classified = classifyFailure(chain);
  const cause = classified.cause;
  let kind = classified.kind;
  // A run that stopped for a reason nobody classified is still a failed run to finish, not a crash.
  if (kind === 'internal' && runId !== null && phase !== null) kind = 'failed';
  // Losing Temporal says nothing about the audit: it runs on the server and may well go on there.
  const lost = kind === 'temporal-unreachable';
  const verb = kind === 'cancelled' ? 'stopped' : 'failed';
  const where = runId === null ? '' : lost ? `run ${runId}: lost its audit: ` : `run ${runId} ${verb}${phase === null ? '' : ` while ${phase}`}${shard === null ? '' : ` shard ${shard}`}: `;
  const lines = [`${kind === 'internal' ? 'internal error: ' : ''}${where}${cause}`];
  if (lost && runId !== null) lines.push('  the audit keeps running on the Temporal server if only the connection was lost; nothing it wrote is lost');
  if (context.kept !== undefined) lines.push(`  kept: ${context.kept}`);
  if (context.resume !== undefined) lines.push(`  ${lost ? 'to follow or finish the run' : 'to finish the run'}: ${context.resume}`);
  const detail = chain.map((e) => (e instanceof Error ? (e.stack ?? `${e.name}: ${e.message}`) : String(e))).join('\ncaused by: ');
  return {
    kind,
    cause: redact(cause, env),
    runId,
    phase,
    shard,
    message: redact(lines.join('\n'), env),
    detail: redact(detail, env),
  };
}
