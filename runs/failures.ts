import { ActivityFailure, ApplicationFailure, CancelledFailure, NamespaceNotFoundError, TerminatedFailure, TimeoutFailure, TimeoutType } from '@temporalio/common';
import { InputError, NotAvailableError, RunFailedError, ServiceError } from '../engine/errors.ts';
import type { ServiceFailure } from '../engine/errors.ts';

// Why a run (or a command) ended badly, read from an error chain: one classification for the CLI's
// messages and exit codes and for the audit workflow's own record of how it ended. It imports only
// error types, so the workflow sandbox can use it.

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

/** The type of the failure an audit workflow ends with when one of its steps failed; its details say where. */
export const AUDIT_STEP_FAILED = 'AuditStepFailed';

/**
 * Details of an `AuditStepFailed` failure: the shard a sampling failure stopped the audit in, for the
 * submitter's message (other steps are named by their activity type).
 */
export interface AuditStepFailure {
  runId: string;
  phase: 'sampling';
  shard: string;
}

function serviceKind(service: string, failure: ServiceFailure): FailureKind {
  if (service === 'temporal') return failure === 'namespace-missing' ? 'temporal-namespace-missing' : 'temporal-unreachable';
  if (failure === 'credentials') return 'storage-credentials';
  if (failure === 'bucket-missing') return 'storage-bucket-missing';
  return 'storage-unreachable';
}

/** The error and its causes, outermost first. */
export function chainOf(err: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let e: unknown = err; e !== undefined && e !== null && chain.length < 20; e = e instanceof Error ? e.cause : undefined) chain.push(e);
  return chain;
}

/** The audit's phase each of its activities belongs to. */
const PHASE_OF_ACTIVITY: Record<string, string> = { prepareRun: 'preparing', sampleShard: 'sampling', embedReference: 'summarizing', summarizeRun: 'summarizing' };

const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** The innermost error that says why, and its kind; the outer ones only say where. */
export function classifyFailure(chain: unknown[]): { kind: FailureKind; cause: string } {
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
    if (e instanceof Error && e.name === 'AbortError') return { kind: 'cancelled', cause: e.message.startsWith('cancelled') ? e.message : 'cancelled' };
  }
  return { kind: 'internal', cause: messageOf(chain[chain.length - 1]) };
}

/** Where in a run the chain says it stopped: a RunFailedError, the audit's step failure, or the failed activity's phase. */
export function locateFailure(chain: unknown[]): { runId?: string; phase?: string; shard?: string } {
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
  return at;
}
