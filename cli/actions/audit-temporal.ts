import { resolve } from 'node:path';
import { ApplicationFailure, Client, Connection, WorkflowExecutionAlreadyStartedError, WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import type { WorkflowHandle } from '@temporalio/client';
import { runRequestOf } from '../../activities/control.ts';
import { newRunId } from '../../activities/run.ts';
import { InputError } from '../../engine/errors.ts';
import { openStore } from '../../store/objects.ts';
import type { ObjectStore } from '../../store/objects.ts';
import { temporalSettingsFromEnv } from '../../workers/env.ts';
import { auditProgressQuery, auditWorkflowId } from '../../workflows/audit.ts';
import type { AuditInput, AuditResult } from '../../workflows/audit.ts';
import { auditDatasetWorkflow } from '../../workflows/index.ts';
import { TASK_QUEUES } from '../../workflows/task-queues.ts';
import { describeSummary, newRunFromArgs } from './audit.ts';
import type { AuditArgs } from './audit.ts';
import { EXIT } from '../exit.ts';
import { progressBar } from '../progress.ts';

/** Workers resolve paths in their own working directory: local paths travel absolute. */
const absolute = (spec: string) => (spec.startsWith('s3://') ? spec : resolve(spec));

/** A failed audit whose cause is bad input exits 2 like the local engine; anything else stays as it is. */
function asInputError(err: unknown): unknown {
  let cause: unknown = err;
  while (cause instanceof Error && !(cause instanceof ApplicationFailure && cause.type === 'InputError')) cause = cause.cause;
  if (!(cause instanceof ApplicationFailure)) return err;
  const input = typeof cause.details?.[0] === 'string' ? cause.details[0] : 'audit';
  const prefix = `${input}: `;
  return new InputError(input, cause.message.startsWith(prefix) ? cause.message.slice(prefix.length) : cause.message, { cause: err });
}

/**
 * Follows an audit until it ends: the progress query once a second as a progress bar on a terminal's
 * stderr, then the same summary as the local engine on stdout. Exits like the audit ended: 0 when
 * done, 2 when it failed on bad input, 3 otherwise.
 */
async function followAudit(handle: WorkflowHandle<typeof auditDatasetWorkflow>, args: Pick<AuditArgs, 'json'>): Promise<number> {
  const bar = progressBar('auditing', !args.json && Boolean(process.stderr.isTTY));
  let finished = false;
  const outcome = handle.result().finally(() => (finished = true));
  // Seen by the `await` below; meanwhile an early failure is not an unhandled rejection.
  outcome.catch(() => undefined);
  while (!finished) {
    const p = await handle.query(auditProgressQuery).catch(() => null);
    if (p) bar.update(p.imagesDone, p.imagesTotal, `images, ${p.shardsDone}/${p.shardsTotal} shards, ${p.errorRows} failed samples`);
    await Promise.race([outcome.catch(() => undefined), new Promise((r) => setTimeout(r, 1000))]);
  }
  let result: AuditResult;
  try {
    result = await outcome;
  } catch (err) {
    throw err instanceof WorkflowFailedError ? asInputError(err) : err;
  } finally {
    bar.done();
  }
  if (args.json) process.stdout.write(JSON.stringify(result.summary) + '\n');
  else process.stdout.write(describeSummary(result.summary, result.location, result.reportKey) + '\n');
  return EXIT.ok;
}

async function withClient<T>(use: (client: Client, address: string) => Promise<T>): Promise<T> {
  const { address, namespace } = temporalSettingsFromEnv();
  const connection = await Connection.connect({ address });
  try {
    return await use(new Client({ connection, namespace }), address);
  } finally {
    await connection.close();
  }
}

/**
 * `fiberscope audit --engine temporal --follow RUN_ID`: attaches to the audit of a run from any machine
 * that reaches the Temporal server (running, or already ended: then it prints the outcome at once).
 */
export async function followOnTemporal(args: Pick<AuditArgs, 'json'> & { follow: string }): Promise<number> {
  return await withClient(async (client, address) => {
    const workflowId = auditWorkflowId(args.follow);
    const handle = client.workflow.getHandle<typeof auditDatasetWorkflow>(workflowId);
    await handle.describe().catch((err: unknown) => {
      if (err instanceof WorkflowNotFoundError) throw new InputError('follow', `no audit of run '${args.follow}' on ${address} (workflow ${workflowId})`);
      throw err;
    });
    process.stderr.write(`run ${args.follow}: following workflow ${workflowId} on ${address}\n`);
    return await followAudit(handle, args);
  });
}

/**
 * `fiberscope audit --engine temporal`: validates the run here, submits `auditDatasetWorkflow` under
 * the id `audit/<runId>`, prints the run id, then (unless --detach) follows it like `--follow`.
 */
export async function auditOnTemporal(args: AuditArgs): Promise<number> {
  if (args.follow !== undefined) return await followOnTemporal({ ...args, follow: args.follow });
  const store = openStore(absolute(args.out));
  const runId = args.resume ?? args.runId ?? newRunId();
  let run: AuditInput['run'];
  if (args.resume !== undefined) {
    run = { resume: args.resume };
  } else {
    const spec = await newRunFromArgs(args);
    run = runRequestOf({
      ...spec,
      runId,
      dataset: absolute(spec.dataset),
      prior: absolute(spec.prior),
      extractor: absolute(spec.extractor),
      ...(spec.reference === undefined ? {} : { reference: absolute(spec.reference) }),
    });
  }
  return await submitAudit(runId, run, store, args);
}

export type SubmitOptions = Pick<AuditArgs, 'window' | 'samplingQueue' | 'taskQueue' | 'detach' | 'json'>;

/** Submits `auditDatasetWorkflow` for a run (`check --extractor` builds the request itself) and, unless detached, follows it. */
export async function submitAudit(runId: string, run: AuditInput['run'], store: ObjectStore, args: SubmitOptions): Promise<number> {
  const input: AuditInput = {
    store: store.location,
    run,
    options: { ...(args.window !== undefined ? { window: args.window } : {}), ...(args.samplingQueue !== undefined ? { samplingQueue: args.samplingQueue } : {}) },
  };
  return await withClient(async (client, address) => {
    const workflowId = auditWorkflowId(runId);
    const handle = await client.workflow
      .start(auditDatasetWorkflow, { taskQueue: args.taskQueue ?? TASK_QUEUES.control, workflowId, args: [input] })
      .catch((err: unknown) => {
        if (err instanceof WorkflowExecutionAlreadyStartedError) throw new InputError('run-id', `an audit of run '${runId}' is already running (workflow ${workflowId})`);
        throw err;
      });
    if (args.detach) {
      process.stdout.write(args.json ? JSON.stringify({ runId, workflowId, location: store.location }) + '\n' : `submitted run ${runId} (workflow ${workflowId}) to ${address}\n`);
      return EXIT.ok;
    }
    process.stderr.write(`run ${runId}: workflow ${workflowId} on ${address}\n`);
    return await followAudit(handle, args);
  });
}
