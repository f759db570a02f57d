import { ActivityFailure, ApplicationFailure, CancelledFailure, NamespaceNotFoundError, TerminatedFailure, TimeoutFailure, TimeoutType } from '@temporalio/common';
import { InputError, NotAvailableError, RunFailedError, ServiceError } from '../engine/errors.ts';
import type { ServiceFailure } from '../engine/errors.ts';
import { AUDIT_STEP_FAILED } from '../workflows/audit.ts';
import type { AuditStepFailure } from '../workflows/audit.ts';

/** What went wrong, in the words the README's table of exit codes uses. */
export type FailureKind =
  | 'input'
  | 'bundle-invalid'
  | 'not-available'
  | 'storage-unreachable'
  | 'storage-credentials'
  | 'storage-bucket-missing'
  | 'temporal-unreachable'
  | 'temporal-namespace-missing'
  | 'worker-lost'
  | 'timed-out'
  | 'cancelled'
  | 'failed'
  | 'internal';

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

function serviceKind(service: string, failure: ServiceFailure): FailureKind {
  if (service === 'temporal') return failure === 'namespace-missing' ? 'temporal-namespace-missing' : 'temporal-unreachable';
  if (failure === 'credentials') return 'storage-credentials';
  if (failure === 'bucket-missing') return 'storage-bucket-missing';
  return 'storage-unreachable';
}

function chainOf(err: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let e: unknown = err; e !== undefined && e !== null && chain.length < 20; e = e instanceof Error ? e.cause : undefined) chain.push(e);
  return chain;
}

/** The audit's phase each of its activities belongs to. */
const PHASE_OF_ACTIVITY: Record<string, string> = { prepareRun: 'preparing', sampleShard: 'sampling', embedReference: 'summarizing', summarizeRun: 'summarizing' };

const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** The innermost error that says why, and its kind; the outer ones only say where. */
function classify(chain: unknown[]): { kind: FailureKind; cause: string } {
  for (const e of [...chain].reverse()) {
    if (e instanceof ServiceError) return { kind: serviceKind(e.service, e.failure), cause: e.message };
    if (e instanceof InputError) return { kind: e.name === 'BundleError' ? 'bundle-invalid' : 'input', cause: e.message };
    if (e instanceof NotAvailableError) return { kind: 'not-available', cause: e.message };
    if (e instanceof NamespaceNotFoundError) {
      return { kind: 'temporal-namespace-missing', cause: `Temporal namespace '${e.namespace}' not found; check FIBERSCOPE_TEMPORAL_NAMESPACE (or create the namespace)` };
    }
    if (e instanceof ApplicationFailure) {
      if (e.type === 'ServiceError') {
        const [service, failure] = (e.details ?? []) as [string, ServiceFailure];
        return { kind: serviceKind(service, failure), cause: e.message };
      }
      if (e.type === 'InputError') return { kind: 'input', cause: e.message };
      if (e.type === 'BundleError') return { kind: 'bundle-invalid', cause: e.message };
      if (e.type !== AUDIT_STEP_FAILED) return { kind: 'failed', cause: e.message };
    }
    if (e instanceof TimeoutFailure) {
      return e.timeoutType === TimeoutType.HEARTBEAT
        ? { kind: 'worker-lost', cause: 'worker lost: the sampling worker stopped heartbeating and the shard ran out of retries; check that sampling workers run (fiberscope worker --queue sampling)' }
        : { kind: 'timed-out', cause: `timed out (${TimeoutType[e.timeoutType ?? TimeoutType.START_TO_CLOSE]?.toLowerCase().replace(/_/g, ' ') ?? 'timeout'}); a step took longer than its limit` };
    }
    if (e instanceof TerminatedFailure) return { kind: 'cancelled', cause: 'terminated on the Temporal cluster' };
    if (e instanceof CancelledFailure) return { kind: 'cancelled', cause: 'cancelled' };
    if (e instanceof Error && e.name === 'AbortError') return { kind: 'cancelled', cause: 'cancelled' };
  }
  return { kind: 'internal', cause: messageOf(chain[chain.length - 1]) };
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
  let at: { runId?: string; phase?: string; shard?: string } = {};
  for (const e of chain) {
    if (e instanceof RunFailedError) at = { runId: e.runId, phase: e.phase, ...(e.shard === undefined ? {} : { shard: e.shard }) };
    if (e instanceof ApplicationFailure && e.type === AUDIT_STEP_FAILED) {
      const d = e.details?.[0] as AuditStepFailure | undefined;
      if (d) at = { runId: d.runId, phase: d.phase, shard: d.shard };
    }
    if (e instanceof ActivityFailure && at.phase === undefined) {
      const phase = PHASE_OF_ACTIVITY[e.activityType];
      if (phase !== undefined) at = { ...at, phase };
    }
  }
  const runId = context.runId ?? at.runId ?? null;
  const phase = context.phase ?? at.phase ?? null;
  const shard = context.shard ?? at.shard ?? null;
  const classified = classify(chain);
  const cause = classified.cause;
  let kind = classified.kind;
  // A run that stopped for a reason nobody classified is still a failed run to finish, not a crash.
  if (kind === 'internal' && runId !== null && phase !== null) kind = 'failed';
  const where = runId === null ? '' : `run ${runId} ${kind === 'cancelled' ? 'stopped' : 'failed'}${phase === null ? '' : ` while ${phase}`}${shard === null ? '' : ` shard ${shard}`}: `;
  const lines = [`${kind === 'internal' ? 'internal error: ' : ''}${where}${cause}`];
  if (context.kept !== undefined) lines.push(`  kept: ${context.kept}`);
  if (context.resume !== undefined) lines.push(`  to finish the run: ${context.resume}`);
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
