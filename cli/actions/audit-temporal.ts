import { resolve } from 'node:path';
import { ApplicationFailure, Client, Connection, WorkflowExecutionAlreadyStartedError, WorkflowFailedError } from '@temporalio/client';
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
 * `fiberscope audit --engine temporal`: validates the run here, submits `auditDatasetWorkflow` under
 * the id `audit/<runId>`, prints the run id, then (unless --detach) follows the progress query and
 * prints the same summary as the local engine.
 */
export async function auditOnTemporal(args: AuditArgs): Promise<number> {
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
  const result = await submitAudit(runId, run, store, args);
  if (result === null) return EXIT.ok;
  if (args.json) process.stdout.write(JSON.stringify(result.summary) + '\n');
  else process.stdout.write(describeSummary(result.summary, result.location, result.reportKey) + '\n');
  return EXIT.ok;
}

export type SubmitOptions = Pick<AuditArgs, 'window' | 'samplingQueue' | 'taskQueue' | 'detach' | 'json'>;

/**
 * Submits `auditDatasetWorkflow` for a run (`check --extractor` builds the request itself) and,
 * unless detached (then null), follows its progress and returns its result.
 */
export async function submitAudit(runId: string, run: AuditInput['run'], store: ObjectStore, args: SubmitOptions): Promise<AuditResult | null> {
  const input: AuditInput = {
    store: store.location,
    run,
    options: { ...(args.window !== undefined ? { window: args.window } : {}), ...(args.samplingQueue !== undefined ? { samplingQueue: args.samplingQueue } : {}) },
  };
  const { address, namespace } = temporalSettingsFromEnv();
  const connection = await Connection.connect({ address });
  try {
    const client = new Client({ connection, namespace });
    const workflowId = auditWorkflowId(runId);
    const handle = await client.workflow
      .start(auditDatasetWorkflow, { taskQueue: args.taskQueue ?? TASK_QUEUES.control, workflowId, args: [input] })
      .catch((err: unknown) => {
        if (err instanceof WorkflowExecutionAlreadyStartedError) throw new InputError('run-id', `an audit of run '${runId}' is already running (workflow ${workflowId})`);
        throw err;
      });
    if (args.detach) {
      process.stdout.write(args.json ? JSON.stringify({ runId, workflowId, location: store.location }) + '\n' : `submitted run ${runId} (workflow ${workflowId}) to ${address}\n`);
      return null;
    }
    process.stderr.write(`run ${runId}: workflow ${workflowId} on ${address}\n`);
    const bar = progressBar('auditing', !args.json && Boolean(process.stderr.isTTY));
    let finished = false;
    const outcome = handle.result().finally(() => (finished = true));
    while (!finished) {
      const p = await handle.query(auditProgressQuery).catch(() => null);
      if (p) bar.update(p.imagesDone, p.imagesTotal, `images, ${p.shardsDone}/${p.shardsTotal} shards, ${p.errorRows} failed samples`);
      await Promise.race([outcome.catch(() => undefined), new Promise((r) => setTimeout(r, 1000))]);
    }
    try {
      return await outcome;
    } catch (err) {
      throw err instanceof WorkflowFailedError ? asInputError(err) : err;
    } finally {
      bar.done();
    }
  } finally {
    await connection.close();
  }
}
