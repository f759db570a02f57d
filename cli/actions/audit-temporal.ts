import { resolve } from 'node:path';
import { Client, Connection, ServiceError, WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import type { WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { runRequestOf } from '../../activities/control.ts';
import { newRunId } from '../../activities/run.ts';
import { InputError, temporalUnreachable } from '../../engine/errors.ts';
import { openStore } from '../../store/objects.ts';
import type { ObjectStore } from '../../store/objects.ts';
import { temporalSettingsFromEnv } from '../../workers/env.ts';
import { auditProgressQuery, auditWorkflowId } from '../../workflows/audit.ts';
import type { AuditInput, AuditOptions, AuditProgress, AuditResult } from '../../workflows/audit.ts';
import { auditDatasetWorkflow } from '../../workflows/index.ts';
import { TASK_QUEUES } from '../../workflows/task-queues.ts';
import { describeSummary, newRunFromArgs, reportRunFailure } from './audit.ts';
import type { AuditArgs } from './audit.ts';
import { EXIT } from '../exit.ts';
import { progressBar } from '../progress.ts';

/** Workers resolve paths in their own working directory: local paths travel absolute. */
export const absolute = (spec: string) => (spec.startsWith('s3://') ? spec : resolve(spec));

/** The client's own failure to reach the server (after its retries), as the ServiceError a user reads. */
export function classifyTemporalFailure(err: unknown, address: string): unknown {
  const grpc = err instanceof ServiceError ? err.cause : err;
  const code = (grpc as { code?: number } | undefined)?.code;
  // 14 UNAVAILABLE, 4 DEADLINE_EXCEEDED: the server did not answer.
  if (!(err instanceof ServiceError) && code === undefined) return err;
  if (code !== undefined && code !== 14 && code !== 4) return err;
  return temporalUnreachable(address, err);
}

/**
 * Follows an audit until it ends: the progress query once a second as a progress bar on a terminal's
 * stderr, then the same summary as the local engine on stdout. A failed audit is thrown as it is:
 * the one error handler reads it (cli/failures.ts).
 */
async function followAudit(
  handle: WorkflowHandle<typeof auditDatasetWorkflow>,
  args: Pick<AuditArgs, 'json'>,
  onProgress: (p: AuditProgress) => void = () => undefined,
): Promise<number> {
  const bar = progressBar('auditing', !args.json && Boolean(process.stderr.isTTY));
  let finished = false;
  const outcome = handle.result().finally(() => (finished = true));
  // Seen by the `await` below; meanwhile an early failure is not an unhandled rejection.
  outcome.catch(() => undefined);
  while (!finished) {
    const p = await handle.query(auditProgressQuery).catch(() => null);
    if (p) {
      onProgress(p);
      bar.update(p.imagesDone, p.imagesTotal, `images, ${p.shardsDone}/${p.shardsTotal} shards, ${p.errorRows} failed samples`);
    }
    await Promise.race([outcome.catch(() => undefined), new Promise((r) => setTimeout(r, 1000))]);
  }
  let result: AuditResult;
  try {
    result = await outcome;
  } finally {
    bar.done();
  }
  if (args.json) process.stdout.write(JSON.stringify(result.summary) + '\n');
  else process.stdout.write(describeSummary(result.summary, result.location, result.reportKey) + '\n');
  return EXIT.ok;
}

/** A client connection to the Temporal server; a server that does not answer is a ServiceError naming its address. */
export async function connectTo(address: string): Promise<Connection> {
  return await Connection.connect({ address }).catch((err: unknown) => {
    if (err instanceof ServiceError) throw classifyTemporalFailure(err, address);
    // A plain error from connecting is the server not being reached ("Failed to connect before the deadline").
    throw temporalUnreachable(address, err);
  });
}

export async function withClient<T>(use: (client: Client, address: string) => Promise<T>): Promise<T> {
  const { address, namespace } = temporalSettingsFromEnv();
  const connection = await connectTo(address);
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
export async function followOnTemporal(args: Pick<AuditArgs, 'json' | 'verbose'> & { follow: string }): Promise<number> {
  return await withClient(async (client, address) => {
    const workflowId = auditWorkflowId(args.follow);
    const handle = client.workflow.getHandle<typeof auditDatasetWorkflow>(workflowId);
    const described = await handle.describe().catch((err: unknown) => {
      if (err instanceof WorkflowNotFoundError) throw new InputError('follow', `no audit of run '${args.follow}' on ${address} (workflow ${workflowId})`);
      throw err;
    });
    process.stderr.write(`run ${args.follow}: following workflow ${workflowId} on ${address}\n`);
    try {
      return await followAudit(handle, args);
    } catch (err) {
      // The audit's own input names its store and queues: what is kept and the command that finishes the run.
      const submitted = await submittedAs(handle).catch(() => null);
      if (submitted === null) throw classifyTemporalFailure(err, address);
      const flags = { engine: 'temporal', out: submitted.store, verbose: args.verbose ?? false, taskQueue: submitted.taskQueue, ...(submitted.samplingQueue === undefined ? {} : { samplingQueue: submitted.samplingQueue }) };
      return await reportRunFailure(classifyTemporalFailure(err, address), openStore(submitted.store), flags, { runId: args.follow, engine: 'temporal', workflowId, recordedSince: described.startTime });
    }
  });
}

/** The store and task queues an audit was submitted with, from its current execution's input. */
async function submittedAs(handle: WorkflowHandle<typeof auditDatasetWorkflow>): Promise<{ store: string; taskQueue: string; samplingQueue?: string } | null> {
  const payload = (await handle.fetchHistory()).events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  if (!payload) return null;
  const input = defaultPayloadConverter.fromPayload<AuditInput>(payload);
  const { taskQueue } = await handle.describe();
  return { store: input.store, taskQueue, ...(input.options?.samplingQueue === undefined ? {} : { samplingQueue: input.options.samplingQueue }) };
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

export type SubmitOptions = Pick<AuditArgs, 'window' | 'samplingQueue' | 'heartbeatTimeout' | 'shardTimeout' | 'shardAttempts' | 'taskQueue' | 'detach' | 'json' | 'resume' | 'verbose'>;

/** The workflow's options from the Temporal flags; what is not given keeps the workflow's default. */
export function auditOptionsOf(args: Pick<AuditArgs, 'window' | 'samplingQueue' | 'heartbeatTimeout' | 'shardTimeout' | 'shardAttempts'>): AuditOptions {
  const seconds = (flag: string, v: number | undefined) => {
    if (v === undefined) return undefined;
    if (!Number.isFinite(v) || v <= 0) throw new InputError(flag, `expected a positive number of seconds, got ${v}`);
    return Math.round(v * 1000);
  };
  if (args.shardAttempts !== undefined && (!Number.isInteger(args.shardAttempts) || args.shardAttempts < 1)) {
    throw new InputError('--shard-attempts', `expected a positive whole number, got ${args.shardAttempts}`);
  }
  const heartbeatTimeout = seconds('--heartbeat-timeout', args.heartbeatTimeout);
  const shardTimeout = seconds('--shard-timeout', args.shardTimeout);
  return {
    ...(args.window !== undefined ? { window: args.window } : {}),
    ...(args.samplingQueue !== undefined ? { samplingQueue: args.samplingQueue } : {}),
    ...(heartbeatTimeout !== undefined ? { heartbeatTimeout } : {}),
    ...(shardTimeout !== undefined ? { shardTimeout } : {}),
    ...(args.shardAttempts !== undefined ? { maximumAttempts: args.shardAttempts } : {}),
  };
}

/** Submits `auditDatasetWorkflow` for a run (`check --extractor` builds the request itself) and, unless detached, follows it. */
export async function submitAudit(runId: string, run: AuditInput['run'], store: ObjectStore, args: SubmitOptions): Promise<number> {
  const input: AuditInput = {
    store: store.location,
    run,
    options: auditOptionsOf(args),
  };
  const { address, namespace } = temporalSettingsFromEnv();
  const connection = await connectTo(address);
  const workflowId = auditWorkflowId(runId);
  // The last progress seen says in which phase a failure happened (set from the follow loop).
  const seen: { last: AuditProgress | null } = { last: null };
  let submitted = false;
  // The audit's own record of where it stopped counts only if written after this submission.
  let since = new Date();
  try {
    const client = new Client({ connection, namespace });
    const taskQueue = args.taskQueue ?? TASK_QUEUES.control;
    let handle: WorkflowHandle<typeof auditDatasetWorkflow>;
    try {
      handle = await client.workflow.start(auditDatasetWorkflow, { taskQueue, workflowId, args: [input] });
      submitted = true;
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw classifyTemporalFailure(err, address);
      // Resuming a run whose audit still runs (the submitter lost it in an outage) follows that audit.
      if (args.resume === undefined) throw new InputError('run-id', `an audit of run '${runId}' is already running (workflow ${workflowId})`);
      handle = client.workflow.getHandle(workflowId);
      submitted = true;
      since = (await handle.describe()).startTime;
      process.stderr.write(`run ${runId}: its audit is still running; following it\n`);
    }
    if (args.detach) {
      process.stdout.write(args.json ? JSON.stringify({ runId, workflowId, location: store.location }) + '\n' : `submitted run ${runId} (workflow ${workflowId}) to ${address}\n`);
      return EXIT.ok;
    }
    process.stderr.write(`run ${runId}: workflow ${workflowId} on ${address}\n`);
    return await followAudit(handle, args, (p) => (seen.last = p));
  } catch (err) {
    const classified = classifyTemporalFailure(err, address);
    // Refused before the audit was submitted (bad input, unknown namespace, server gone): the run is as it was.
    if (err instanceof InputError || !submitted) throw classified;
    return await reportRunFailure(classified, store, { ...args, engine: 'temporal', out: store.location }, {
      runId,
      engine: 'temporal',
      workflowId,
      recordedSince: since,
      ...(seen.last !== null && seen.last.phase !== 'done' ? { phase: seen.last.phase } : {}),
    });
  } finally {
    await connection.close();
  }
}
