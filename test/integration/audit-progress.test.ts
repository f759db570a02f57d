import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { NativeConnection } from '@temporalio/worker';
import { runRequestOf } from '../../activities/control.ts';
import { main } from '../../cli/main.ts';
import { runLayout } from '../../store/layout.ts';
import type { S3Store } from '../../store/objects.ts';
import { auditProgressQuery, auditWorkflowId, batchesStoredSignal } from '../../workflows/audit.ts';
import type { AuditProgress } from '../../workflows/audit.ts';
import { auditDatasetWorkflow } from '../../workflows/index.ts';
import { tinyImage, tinySampler, writeTinyPair } from '../fixtures/tiny-pair.ts';
import type { TinyPair } from '../fixtures/tiny-pair.ts';
import { captureStdout } from '../unit/cli/fixtures.ts';
import { connectTemporal, s3Store, startWorkers, temporalSettings, uniqueName, useServiceEnvironment } from './services.ts';
import type { InProcessWorkers } from './services.ts';
import { Gate } from './interposed.ts';

useServiceEnvironment();
const controlQueue = uniqueName('test-progress-control');
const samplingQueue = uniqueName('test-progress-sampling');
const runId = uniqueName('progress');
const layout = runLayout(runId);
let connection: NativeConnection | undefined;
let store: S3Store | undefined;
let client: Client;
let gate: Gate;
let pair: TinyPair;
let dataset: string;
let workers: InProcessWorkers | undefined;

before(async () => {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  connection = await connectTemporal();
  store = await s3Store(uniqueName('test/audit-progress'));
  const { namespace } = temporalSettings();
  client = new Client({ connection, namespace });
  const dir = await mkdtemp(join(tmpdir(), 'fiberscope-progress-'));
  pair = await writeTinyPair(dir);
  dataset = join(dir, 'images');
  await mkdir(dataset);
  for (let i = 0; i < 6; i++) await writeFile(join(dataset, `q${i}.png`), tinyImage(i));
  // The shard's fourth batch is held before its rows are stored: the shard stays in flight on demand.
  gate = new Gate(store, layout.shardPart('shard-00000', 3) + '.json');
  workers = await startWorkers({ connection, namespace, store, controlQueue, samplingQueue, samplingStore: gate, batchReportMs: 0 });
});

after(async () => {
  gate?.release();
  await workers?.stop();
  if (store !== undefined) {
    for (const key of await store.list('')) await store.delete(key);
    store.client.destroy();
  }
  await connection?.close();
});

async function until(read: () => Promise<AuditProgress>, ok: (p: AuditProgress) => boolean): Promise<AuditProgress> {
  for (let i = 0; i < 300; i++) {
    const p = await read();
    if (ok(p)) return p;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('progress never got there');
}

test('progress moves per stored batch before the shard completes, counts each batch once, and --follow attaches and exits 0', async () => {
  const run = runRequestOf({
    runId, dataset, ...pair, samplesPerImage: 2, sampler: tinySampler(), preset: 'imagenet-dinov2', probes: ['hflip'],
    batchImages: 1, shardSize: 6, resizeQueries: false, provider: 'cpu',
  });
  const handle = await client.workflow.start(auditDatasetWorkflow, {
    taskQueue: controlQueue,
    workflowId: auditWorkflowId(runId),
    args: [{ store: store!.location, run, options: { samplingQueue } }],
  });
  await gate.reached;
  const mid = await until(() => handle.query(auditProgressQuery), (p) => p.imagesDone === 3);
  assert.deepEqual(
    { shardsDone: mid.shardsDone, imagesDone: mid.imagesDone, okRows: mid.okRows, batchesDone: mid.batchesDone, activeShards: mid.activeShards },
    { shardsDone: 0, imagesDone: 3, okRows: 6, batchesDone: 3, activeShards: [{ shard: 'shard-00000', imagesDone: 3, images: 6 }] },
  );
  // A retried or zombie attempt reports batches again, and late reports name shards no longer in flight.
  await handle.signal(batchesStoredSignal, { shard: 'shard-00000', batches: [{ firstImage: 1, images: 1, okRows: 2, errorRows: 0 }] });
  await handle.signal(batchesStoredSignal, { shard: 'shard-00042', batches: [{ firstImage: 0, images: 1, okRows: 2, errorRows: 0 }] });
  const after = await handle.query(auditProgressQuery);
  assert.deepEqual([after.imagesDone, after.okRows, after.batchesDone], [3, 6, 3]);
  assert.ok(Date.parse(after.updatedAt) >= Date.parse(after.startedAt));

  const following = captureStdout(() => main(['audit', '--engine', 'temporal', '--follow', runId, '--json']));
  await new Promise((r) => setTimeout(r, 1500));
  gate.release();
  const { code, stdout } = await following;
  assert.equal(code, 0);
  assert.deepEqual(JSON.parse(stdout).samples, { total: 12, ok: 12, error: 0 });
  const done = await handle.query(auditProgressQuery);
  assert.deepEqual(
    { phase: done.phase, shardsDone: done.shardsDone, imagesDone: done.imagesDone, okRows: done.okRows, activeShards: done.activeShards },
    { phase: 'done', shardsDone: 1, imagesDone: 6, okRows: 12, activeShards: [] },
  );
  assert.ok(done.batchesDone >= 3 && done.batchesDone <= 6);
  // Following an audit that has already ended prints its outcome at once.
  const again = await captureStdout(() => main(['audit', '--engine', 'temporal', '--follow', runId, '--json']));
  assert.equal(again.code, 0);
  assert.equal(JSON.parse(again.stdout).runId, runId);
});

test('--follow exits like the audit ended: 2 for an audit that failed on bad input', async () => {
  const missing = uniqueName('never-made');
  const handle = await client.workflow.start(auditDatasetWorkflow, {
    taskQueue: controlQueue,
    workflowId: auditWorkflowId(missing),
    args: [{ store: store!.location, run: { resume: missing }, options: { samplingQueue } }],
  });
  await handle.result().catch(() => undefined);
  const { code } = await captureStdout(() => main(['audit', '--engine', 'temporal', '--follow', missing]));
  assert.equal(code, 2);
});

test('--follow names an unknown run, and needs the temporal engine', async () => {
  const errors: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array) => (errors.push(String(chunk)), true)) as typeof process.stderr.write;
  let codes: number[];
  try {
    codes = [await main(['audit', '--engine', 'temporal', '--follow', 'no-such-run']), await main(['audit', '--follow', 'no-such-run'])];
  } finally {
    process.stderr.write = write;
  }
  assert.deepEqual(codes, [2, 2]);
  assert.match(errors.join(''), /no audit of run 'no-such-run' on .* \(workflow audit\/no-such-run\)/);
  assert.match(errors.join(''), /--follow needs --engine temporal/);
});
