import { executeChild, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { createControlActivities, RunRequest } from '../activities/control.ts';
import { auditDatasetWorkflow, auditWorkflowId } from './audit.ts';
import type { AuditOptions, AuditResult } from './audit.ts';

/** What a Schedule's action carries: the same audit every time; the run id is made per action. */
export interface ScheduledAuditInput {
  scheduleId: string;
  store: string;
  /** The audit's run, without a run id (each action gets its own) and without a schedule record. */
  run: Omit<RunRequest, 'runId' | 'schedule'>;
  options?: AuditOptions;
  /** A run (id in the store, or a run folder) to gate each scheduled run against; its verdict goes into the run. */
  gateBaseline?: string;
}

export interface ScheduledAuditResult {
  runId: string;
  scheduleId: string;
  actionTime: string;
  images: number;
  okRows: number;
  errorRows: number;
  /** With a gate baseline: `pass` or `regression`. */
  verdict: string | null;
}

/** A readable run id per action: the schedule, the action's time, and a tail so two triggers in one second differ. */
export function scheduledRunId(scheduleId: string, actionTime: string, tail: string): string {
  const stamp = actionTime.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${scheduleId.replace(/[^A-Za-z0-9._=+-]+/g, '_')}-${stamp}-${tail.replace(/[^A-Za-z0-9]/g, '').slice(0, 6)}`;
}

/** The nominal time of this action (TemporalScheduledStartTime), else when the workflow started. */
function actionTimeOf(): string {
  const info = workflowInfo();
  const scheduled = (info.searchAttributes as Record<string, unknown[] | undefined> | undefined)?.['TemporalScheduledStartTime']?.[0];
  const at = scheduled instanceof Date || typeof scheduled === 'string' ? new Date(scheduled) : info.startTime;
  return Number.isNaN(at.getTime()) ? info.startTime.toISOString() : at.toISOString();
}

/**
 * The action of a fiberscope Schedule: a new run id for this action (recording the schedule and the
 * action time in the run's manifest), the audit as a child workflow under `audit/<runId>` (so the
 * dashboard and `--follow` find it like any audit), then, with a gate baseline, the gate on the control
 * queue, whose verdict is recorded in the run (gate.json).
 */
export async function scheduledAuditWorkflow(input: ScheduledAuditInput): Promise<ScheduledAuditResult> {
  const actionTime = actionTimeOf();
  const runId = scheduledRunId(input.scheduleId, actionTime, workflowInfo().runId);
  const run: RunRequest = { ...input.run, runId, schedule: { id: input.scheduleId, actionTime } };
  const result: AuditResult = await executeChild(auditDatasetWorkflow, {
    workflowId: auditWorkflowId(runId),
    args: [{ store: input.store, run, ...(input.options === undefined ? {} : { options: input.options }) }],
  });
  let verdict: string | null = null;
  if (input.gateBaseline !== undefined) {
    const control = proxyActivities<ReturnType<typeof createControlActivities>>({
      ...(input.options?.controlQueue === undefined ? {} : { taskQueue: input.options.controlQueue }),
      startToCloseTimeout: '30 minutes',
      retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 5, nonRetryableErrorTypes: ['InputError'] },
    });
    verdict = (await control.gateRun({ store: input.store, baseline: input.gateBaseline, candidate: runId })).verdict;
  }
  return { runId, scheduleId: input.scheduleId, actionTime, images: result.images, okRows: result.okRows, errorRows: result.errorRows, verdict };
}
