import { ActivityCancellationType, ApplicationFailure, CancellationScope, ContinueAsNew, continueAsNew, defineQuery, defineSignal, isCancellation, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { Duration } from '@temporalio/common';
import type { createControlActivities, PreparedRun, RunRequest } from '../activities/control.ts';
import type { createSamplingActivities, StoredBatches } from '../activities/shards.ts';
import type { RunSummary } from '../runs/summary.ts';
import { AUDIT_STEP_FAILED, chainOf, classifyFailure, locateFailure } from '../runs/failures.ts';
import type { AuditStepFailure } from '../runs/failures.ts';
import { planShards } from './plan.ts';
import { TASK_QUEUES } from './task-queues.ts';

export interface AuditOptions {
  /** Shards in flight at once (the sliding window); default 4. */
  window?: number;
  /** Shards completed per workflow execution before continue-as-new (bounds the history); default 200. */
  shardsPerExecution?: number;
  /** Task queue of the sampling workers; default `sampling`. */
  samplingQueue?: string;
  /** Task queue of the control activities; default the workflow's own. */
  controlQueue?: string;
  /** A sampling worker that stops heartbeating this long is presumed dead; default 2 minutes. */
  heartbeatTimeout?: Duration;
  /** Longest one shard may take in one attempt; default 12 hours. */
  shardTimeout?: Duration;
  /** Attempts per shard before the audit fails; default 5. */
  maximumAttempts?: number;
}

/** Progress carried across continue-as-new; the shards below `nextShard` are all complete. */
export interface AuditState {
  run: PreparedRun;
  nextShard: number;
  imagesDone: number;
  okRows: number;
  errorRows: number;
  executions: number;
  startedAt: string;
}

export interface AuditInput {
  /** The store the workers write to (a folder, file:// URL or s3://bucket/prefix), checked by them. */
  store: string;
  /** A new run, or `{resume: runId}` to finish an existing one. */
  run: RunRequest | { resume: string };
  options?: AuditOptions;
  /** Set by the workflow itself when it continues as new. */
  state?: AuditState;
}

export interface AuditResult {
  runId: string;
  location: string;
  images: number;
  okRows: number;
  errorRows: number;
  summaryKey: string;
  reportKey: string;
  summary: RunSummary;
  /** Workflow executions the audit took (1 + continue-as-new count). */
  executions: number;
}

export type AuditPhase = 'preparing' | 'sampling' | 'summarizing' | 'done';

/** A shard being sampled now, as far as its stored batches go. */
export interface ActiveShard {
  shard: string;
  imagesDone: number;
  images: number;
}

export interface AuditProgress {
  runId: string | null;
  phase: AuditPhase;
  shardsDone: number;
  shardsTotal: number;
  shardsInFlight: number;
  /** Images whose rows are stored: every image of the completed shards plus the stored batches of the shards in flight. */
  imagesDone: number;
  imagesTotal: number;
  /** Rows stored so far, counted like imagesDone. */
  okRows: number;
  /** Samples that failed (unreadable image, NaN/Inf): error rows so far. */
  errorRows: number;
  executions: number;
  /** When the audit's first execution started (ISO 8601): images/s for dashboards. */
  startedAt: string;
  /** Batches reported stored by the shards of this execution in flight (each counted once across retries). */
  batchesDone: number;
  /** The shards in flight with their stored images. */
  activeShards: ActiveShard[];
  /** When the progress last changed (ISO 8601, workflow time). */
  updatedAt: string;
}

export const auditProgressQuery = defineQuery<AuditProgress>('auditProgress');

/**
 * Sent by a sampling attempt (through the worker's Temporal client) after it stores batches, so progress
 * moves between shard completions; at most one per second per shard attempt, so it cannot flood history.
 */
export const batchesStoredSignal = defineSignal<[StoredBatches]>('batchesStored');

export const AUDIT_DEFAULTS = {
  window: 4,
  shardsPerExecution: 200,
  heartbeatTimeout: '2 minutes',
  shardTimeout: '12 hours',
  maximumAttempts: 5,
} as const;

/** Fails the audit with the step it stopped in; the step's own failure stays its cause. Cancellation passes as it is. */
function failedIn(at: AuditStepFailure): (err: unknown) => never {
  return (err) => {
    if (isCancellation(err)) throw err;
    const where = `${at.phase}${at.shard === null ? '' : ` shard ${at.shard}`}`;
    throw ApplicationFailure.create({
      type: AUDIT_STEP_FAILED,
      message: `${where}: ${err instanceof Error ? err.message : String(err)}`,
      nonRetryable: true,
      details: [at],
      ...(err instanceof Error ? { cause: err } : {}),
    });
  };
}

function positiveInteger(name: string, v: number): number {
  // A plain Error would only fail the workflow task (retried forever); bad options fail the audit.
  if (!Number.isInteger(v) || v < 1) {
    throw ApplicationFailure.create({ type: 'InputError', nonRetryable: true, message: `${name}: expected a positive integer, got ${v}` });
  }
  return v;
}

/**
 * Audits a dataset: prepare the run (control) → sample its shards on the sampling queue through a
 * sliding window → summarize (control). Payloads carry ids, counts and keys only; the shard list is
 * recomputed from (imageCount, shardSize). After `shardsPerExecution` completed shards the window
 * drains and the workflow continues as new with its progress, so history stays bounded.
 */
export async function auditDatasetWorkflow(input: AuditInput): Promise<AuditResult> {
  const known: Known = { runId: input.state?.run.runId ?? ('resume' in input.run ? input.run.resume : input.run.runId) };
  try {
    return await auditSteps(input, known);
  } catch (err) {
    if (!(err instanceof ContinueAsNew) && known.runId !== undefined) await recordFailure(input, known.runId, known.progress, err);
    throw err;
  }
}

/** What the audit knows of itself when it ends badly: its run, and the phase it was in (a cancellation carries none). */
interface Known {
  runId?: string;
  progress?: AuditProgress;
}

/**
 * The audit's own record of how it ended badly (status.json: kind, cause, phase, shard), so a detached
 * or scheduled run says why without anyone following it. Best effort: with the store down it is the
 * outage itself, and the workflow's failure stays the authority.
 */
async function recordFailure(input: AuditInput, runId: string, progress: AuditProgress | undefined, err: unknown): Promise<void> {
  const chain = chainOf(err);
  const { kind, cause } = classifyFailure(chain);
  const located = locateFailure(chain);
  const current = progress?.phase;
  const at = { ...located, phase: located.phase ?? (current === undefined || current === 'done' ? undefined : current) };
  const recorder = proxyActivities<ReturnType<typeof createControlActivities>>({
    ...(input.options?.controlQueue === undefined ? {} : { taskQueue: input.options.controlQueue }),
    startToCloseTimeout: '1 minute',
    retry: { initialInterval: '1 second', maximumAttempts: 3 },
  });
  const record = { store: input.store, runId, kind: kind === 'internal' ? 'failed' : kind, message: cause, ...(at.phase === undefined ? {} : { phase: at.phase }), ...(at.shard === undefined ? {} : { shard: at.shard }) };
  await CancellationScope.nonCancellable(() => recorder.recordRunFailure(record)).catch(() => undefined);
}

async function auditSteps(input: AuditInput, known: Known): Promise<AuditResult> {
  const o = { ...AUDIT_DEFAULTS, ...input.options };
  const window = positiveInteger('window', o.window);
  const perExecution = positiveInteger('shardsPerExecution', o.shardsPerExecution);
  const retry = { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', nonRetryableErrorTypes: ['InputError', 'BundleError'] };
  const control = proxyActivities<ReturnType<typeof createControlActivities>>({
    ...(o.controlQueue === undefined ? {} : { taskQueue: o.controlQueue }),
    startToCloseTimeout: '30 minutes',
    retry: { ...retry, maximumAttempts: 5 },
  });
  const sampling = proxyActivities<ReturnType<typeof createSamplingActivities>>({
    taskQueue: o.samplingQueue ?? TASK_QUEUES.sampling,
    startToCloseTimeout: o.shardTimeout,
    heartbeatTimeout: o.heartbeatTimeout,
    // A cancelled audit ends once its shards have stopped, not while workers still write to the run.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: { ...retry, maximumAttempts: positiveInteger('maximumAttempts', o.maximumAttempts) },
  });

  const progress: AuditProgress = {
    runId: input.state?.run.runId ?? null,
    phase: input.state ? 'sampling' : 'preparing',
    shardsDone: input.state?.nextShard ?? 0,
    shardsTotal: input.state?.run.shardCount ?? 0,
    shardsInFlight: 0,
    imagesDone: input.state?.imagesDone ?? 0,
    imagesTotal: input.state?.run.imageCount ?? 0,
    okRows: input.state?.okRows ?? 0,
    errorRows: input.state?.errorRows ?? 0,
    executions: (input.state?.executions ?? 0) + 1,
    // Date is the workflow task's time in a workflow: deterministic on replay.
    startedAt: input.state?.startedAt ?? new Date().toISOString(),
    batchesDone: 0,
    activeShards: [],
    updatedAt: new Date().toISOString(),
  };
  known.progress = progress;
  /** Stored batches of the shards in flight, keyed by first image: a retried attempt reports the same keys. */
  const active = new Map<string, { images: number; okRows: number; errorRows: number; total: number; seen: Set<number> }>();
  const changed = () => {
    progress.updatedAt = new Date().toISOString();
    progress.activeShards = [...active].map(([shard, a]) => ({ shard, imagesDone: a.images, images: a.total }));
  };
  setHandler(auditProgressQuery, () => ({ ...progress, activeShards: progress.activeShards.map((a) => ({ ...a })) }));
  setHandler(batchesStoredSignal, ({ shard, batches }) => {
    // A late report of a shard already complete (or of another execution) changes nothing.
    const a = active.get(shard);
    if (a === undefined) return;
    for (const b of batches) {
      if (a.seen.has(b.firstImage)) continue;
      a.seen.add(b.firstImage);
      a.images += b.images;
      a.okRows += b.okRows;
      a.errorRows += b.errorRows;
      progress.imagesDone += b.images;
      progress.okRows += b.okRows;
      progress.errorRows += b.errorRows;
      progress.batchesDone += 1;
    }
    changed();
  });

  const run = input.state?.run ?? (await control.prepareRun({ store: input.store, run: input.run }));
  known.runId = run.runId;
  Object.assign(progress, { runId: run.runId, phase: 'sampling', shardsTotal: run.shardCount, imagesTotal: run.imageCount });
  const shards = planShards(run.imageCount, run.shardSize);
  const first = input.state?.nextShard ?? 0;
  let stop = Math.min(shards.length, first + perExecution);

  const inFlight = new Map<number, Promise<number>>();
  for (let i = first; i < stop || inFlight.size > 0; ) {
    // The server suggests continue-as-new when history grows large (e.g. many retries): launch no more here.
    if (workflowInfo().continueAsNewSuggested && i < stop && i > first) stop = i;
    if (i < stop && inFlight.size < window) {
      const index = i++;
      const shard = shards[index]!;
      active.set(shard.shard, { images: 0, okRows: 0, errorRows: 0, total: shard.end - shard.start, seen: new Set() });
      inFlight.set(
        index,
        sampling.sampleShard({ runId: run.runId, ...shard }).then((r) => {
          // The shard's result replaces what its batches reported: exact, and never less.
          const a = active.get(shard.shard)!;
          active.delete(shard.shard);
          progress.shardsDone += 1;
          progress.imagesDone += r.images - a.images;
          progress.okRows += r.okRows - a.okRows;
          progress.errorRows += r.errorRows - a.errorRows;
          changed();
          return index;
        })
        .catch(failedIn({ runId: run.runId, phase: 'sampling', shard: shard.shard })),
      );
      progress.shardsInFlight = inFlight.size;
      changed();
      continue;
    }
    inFlight.delete(await Promise.race(inFlight.values()));
    progress.shardsInFlight = inFlight.size;
  }

  if (stop < shards.length) {
    const state: AuditState = {
      run,
      nextShard: stop,
      imagesDone: progress.imagesDone,
      okRows: progress.okRows,
      errorRows: progress.errorRows,
      executions: progress.executions,
      startedAt: progress.startedAt,
    };
    return await continueAsNew<typeof auditDatasetWorkflow>({ ...input, state });
  }

  progress.phase = 'summarizing';
  changed();
  if (run.hasReference) await sampling.embedReference({ runId: run.runId });
  const summarized = await control.summarizeRun({ store: input.store, runId: run.runId });
  progress.phase = 'done';
  changed();
  return {
    runId: run.runId,
    location: summarized.location,
    images: summarized.summary.images.total,
    okRows: summarized.summary.samples.ok,
    errorRows: summarized.summary.samples.error,
    summaryKey: summarized.summaryKey,
    reportKey: summarized.reportKey,
    summary: summarized.summary,
    executions: progress.executions,
  };
}

/** The id an audit of `runId` runs under, so a run has at most one audit in flight. */
export function auditWorkflowId(runId: string): string {
  return `audit/${runId}`;
}
