import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { main } from '../../cli/main.ts';
import { buildDemo } from '../../engine/demo/build.ts';
import type { DemoPaths } from '../../engine/demo/build.ts';
import { readRunStatus } from '../../runs/status.ts';
import { runLayout } from '../../store/layout.ts';
import type { S3Store } from '../../store/objects.ts';
import { readSampleRows } from '../../store/tables.ts';
import { auditWorkflowId } from '../../workflows/audit.ts';
import { captureStderr } from '../unit/cli/fixtures.ts';
import { privateServices } from './faults.ts';
import type { PrivateServices } from './faults.ts';
import { s3Store, startWorkers, uniqueName, useServiceEnvironment } from './services.ts';
import type { InProcessWorkers } from './services.ts';
import { killWorkers, spawnWorker, until } from './worker-process.ts';
import type { WorkerProcess } from './worker-process.ts';

/**
 * The ways an audit on Temporal ends without its summary, each provoked for real: the sampling worker
 * lost (SIGKILL) with no attempts left, the audit cancelled from another client, a shard over its
 * time limit, and the Temporal server gone for longer than the client's retries (a private dev
 * server, stopped and started again with its database). Each prints one message with the run, the
 * phase and shard, the cause, what is kept and the command that finishes the run, exits 4, and that
 * command completes the run with exactly one row per (image, sample). The store is the shared S3.
 */
const bucket = useServiceEnvironment();
let services: PrivateServices;
let connection: NativeConnection | undefined;
let clientConnection: Connection | undefined;
let client: Client;
let store: S3Store;
let demo: DemoPaths;
let control: InProcessWorkers | undefined;
const controlQueue = uniqueName('test-endings-control');
const prefix = uniqueName('audit-endings');
const storeSpec = `s3://${bucket}/${prefix}`;
const IMAGES = 6;
const NO_STACK = /\n\s+at .+:\d+:\d+/;

before(async () => {
  services = await privateServices('audit-endings', { services: ['temporal'] });
  for (const k of ['FIBERSCOPE_TEMPORAL_ADDRESS', 'FIBERSCOPE_TEMPORAL_NAMESPACE']) process.env[k] = services.env[k];
  process.env.FIBERSCOPE_CACHE_DIR = await mkdtemp(join(tmpdir(), 'fiberscope-cache-'));
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const address = services.env.FIBERSCOPE_TEMPORAL_ADDRESS!;
  const namespace = services.env.FIBERSCOPE_TEMPORAL_NAMESPACE!;
  connection = await NativeConnection.connect({ address });
  clientConnection = await Connection.connect({ address });
  client = new Client({ connection: clientConnection, namespace });
  store = await s3Store(prefix);
  demo = await buildDemo(await mkdtemp(join(tmpdir(), 'fiberscope-demo-')));
  // The control worker runs here; sampling workers are processes of their own, so they can be killed.
  control = await startWorkers({ connection, namespace, store, controlQueue, samplingQueue: uniqueName('test-endings-unused') });
});

after(async () => {
  await killWorkers();
  await control?.stop();
  store?.client.destroy();
  await clientConnection?.close();
  await connection?.close();
  await services?.down();
});

function samplingWorker(queue: string): Promise<WorkerProcess> {
  return spawnWorker(['--queue', 'sampling', '--task-queue', queue, '--store', storeSpec, '--shutdown-grace', '5']);
}

/** An audit of the demo digits in shards of two images, one image a batch, so a shard takes a few batches. */
function audit(id: string, samplingQueue: string, extra: string[] = [], { steps = 6, shardSize = 2 } = {}): string[] {
  return [
    'audit', '--engine', 'temporal', '--out', storeSpec, '--run-id', id,
    '--dataset', demo.dataset, '--prior', demo.prior, '--extractor', demo.extractors[1]!.path, '--limit', String(IMAGES),
    '-k', '2', '--steps', String(steps), '--inner-steps', '1', '--lr', '0.05', '--update', 'ddim', '--variance', 'small', '--eta', '0',
    '--seed', '7', '--probes', 'hflip', '--batch-images', '1', '--shard-size', String(shardSize), '--window', '1',
    '--task-queue', controlQueue, '--sampling-queue', samplingQueue, ...extra,
  ];
}

async function batchesStored(id: string): Promise<number> {
  return (await store.list(`${runLayout(id).base}/parts/`)).filter((k) => k.endsWith('.json')).length + (await store.list(`${runLayout(id).base}/shards/`)).filter((k) => /shard-\d+\.arrow$/.test(k)).length;
}

/** The message's first line, what it says is kept, and the command it gives to finish the run. */
function parse(stderr: string): { first: string; kept: string; resume: string[] } {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '');
  const first = lines.find((l) => l.startsWith('fiberscope: ')) ?? '';
  const kept = lines.find((l) => l.trim().startsWith('kept: ')) ?? '';
  const resume = lines.find((l) => / to (follow or )?finish the run: /.test(l))?.replace(/^.*finish the run: fiberscope /, '') ?? '';
  return { first, kept, resume: resume === '' ? [] : resume.split(' ') };
}

/** Finishes the run with the printed command and checks every (image, sample) is there once. */
async function assertResumes(id: string, resume: string[]): Promise<void> {
  assert.deepEqual(resume.slice(0, 3), ['audit', '--resume', id], `the command finishes this run: ${resume.join(' ')}`);
  const finished = await captureStderr(() => main(resume));
  assert.equal(finished.code, 0, finished.stderr);
  const keys = (await store.list(`${runLayout(id).base}/shards/`)).filter((k) => /shard-\d+\.arrow$/.test(k));
  const rows = (await Promise.all(keys.map(async (k) => readSampleRows(await store.get(k), k)))).flat();
  assert.equal(rows.length, IMAGES * 2, 'every (image, sample)');
  assert.equal(new Set(rows.map((r) => `${r.image_id}#${r.sample_index}`)).size, rows.length, 'none twice');
  assert.ok(rows.every((r) => r.status === 'ok'));
  assert.equal((await readRunStatus(store, id))?.state, 'done');
}

test('the sampling worker lost with no attempts left: "worker lost" naming the shard, exit 4; a new worker finishes the run', async () => {
  const id = uniqueName('lost');
  const queue = uniqueName('test-endings-sampling');
  const worker = await samplingWorker(queue);
  // One shard of six batches: when its first batch is stored the worker is surely in the middle of it
  // (killed between two shards, the next would wait for a worker, not time out).
  const submitted = captureStderr(() => main(audit(id, queue, ['--heartbeat-timeout', '2', '--shard-attempts', '1'], { shardSize: IMAGES })));
  await until('a batch stored', async () => (await batchesStored(id)) >= 1);
  worker.child.kill('SIGKILL');
  const { code, stderr } = await submitted;
  assert.equal(code, 4, stderr);
  const m = parse(stderr);
  assert.match(m.first, new RegExp(`^fiberscope: run ${id} failed while sampling shard shard-00000: worker lost: the sampling worker stopped heartbeating and the shard ran out of retries; check that sampling workers run`));
  assert.match(m.kept, /kept: 0 of 1 shards done, [1-6] batches of shard-00000; nothing written is lost/);
  assert.doesNotMatch(stderr, NO_STACK);
  const status = await readRunStatus(store, id);
  assert.equal(status?.state, 'failed');
  assert.equal(status?.error?.kind, 'worker-lost');
  await samplingWorker(queue);
  await assertResumes(id, m.resume);
});

test('an audit cancelled from another client: "stopped … cancelled", exit 4; the printed command finishes it', async () => {
  const id = uniqueName('cancelled');
  const queue = uniqueName('test-endings-sampling');
  await samplingWorker(queue);
  const submitted = captureStderr(() => main(audit(id, queue)));
  await until('a batch stored', async () => (await batchesStored(id)) >= 1);
  await client.workflow.getHandle(auditWorkflowId(id)).cancel();
  const { code, stderr } = await submitted;
  assert.equal(code, 4, stderr);
  const m = parse(stderr);
  assert.match(m.first, new RegExp(`^fiberscope: run ${id} stopped while sampling.*: cancelled`));
  assert.match(m.kept, /kept: \d of 3 shards done/);
  assert.doesNotMatch(stderr, NO_STACK);
  const status = await readRunStatus(store, id);
  assert.equal(status?.error?.kind, 'cancelled');
  // The workflow records the phase it was cancelled in; the cancellation itself carries none.
  assert.equal(status?.phase, 'sampling');
  await assertResumes(id, m.resume);
});

test('a detached audit whose shard runs over its time limit records "timed out" itself; --follow then says it, exit 4, and its command finishes the run', async () => {
  const id = uniqueName('timeout');
  const queue = uniqueName('test-endings-sampling');
  await samplingWorker(queue);
  // 400 steps: a shard of two digits then takes seconds, far over the 0.3 s limit (at 60 steps a fast
  // machine finished shards inside it, and the run failed on a later shard or not at all).
  const detached = await captureStderr(() => main(audit(id, queue, ['--shard-timeout', '0.3', '--shard-attempts', '1', '--detach'], { steps: 400 })));
  assert.equal(detached.code, 0, detached.stderr);
  // Nobody follows it: the workflow's own record says how it ended.
  await until('the audit to record its failure', async () => (await readRunStatus(store, id))?.state === 'failed', 60_000);
  const recorded = await readRunStatus(store, id);
  assert.equal(recorded?.error?.kind, 'timed-out');
  assert.deepEqual([recorded?.phase, recorded?.shard], ['sampling', 'shard-00000']);
  const { code, stderr } = await captureStderr(() => main(['audit', '--engine', 'temporal', '--follow', id]));
  assert.equal(code, 4, stderr);
  const m = parse(stderr);
  assert.match(m.first, new RegExp(`^fiberscope: run ${id} failed while sampling shard shard-00000: timed out \\(start to close\\)`));
  // What is kept is counted in the shard the message names (the timed-out attempt may still finish
  // that shard on its worker, so how many shards are done varies).
  assert.match(m.kept, /kept: \d of 3 shards done, \d+ batches of shard-00000; nothing written is lost/);
  assert.doesNotMatch(stderr, NO_STACK);
  assert.equal((await readRunStatus(store, id))?.error?.kind, 'timed-out');
  await assertResumes(id, m.resume);
});

test('the Temporal server gone past the client retries: "Temporal unreachable", exit 4, the run not marked failed; after its restart the printed command follows the same audit to the end', async () => {
  const id = uniqueName('temporal-gone');
  const queue = uniqueName('test-endings-sampling');
  await samplingWorker(queue);
  const address = services.env.FIBERSCOPE_TEMPORAL_ADDRESS!;
  // A shard whose completion was lost with the server is retried after this long without a heartbeat.
  const submitted = captureStderr(() => main(audit(id, queue, ['--heartbeat-timeout', '5'])));
  await until('a batch stored', async () => (await batchesStored(id)) >= 1);
  await services.stop('temporal');
  let result: { code: number; stderr: string };
  try {
    result = await submitted;
  } finally {
    await services.start('temporal');
  }
  const { code, stderr } = result;
  assert.equal(code, 4, stderr);
  const m = parse(stderr);
  assert.match(m.first, new RegExp(`^fiberscope: run ${id}: lost its audit: Temporal unreachable at ${address}`));
  assert.match(stderr, /the audit keeps running on the Temporal server if only the connection was lost/);
  assert.match(stderr, /to follow or finish the run: fiberscope audit --resume /);
  assert.doesNotMatch(stderr, NO_STACK);
  assert.notEqual((await readRunStatus(store, id))?.state, 'failed', 'the workflow, not the lost client, says how the audit ends');
  const before = (await client.workflow.getHandle(auditWorkflowId(id)).describe()).runId;
  await assertResumes(id, m.resume);
  assert.equal((await client.workflow.getHandle(auditWorkflowId(id)).describe()).runId, before, 'the same workflow execution finished the run');
});
