import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { NativeConnection, Worker } from '@temporalio/worker';
import { runRequestOf } from '../../activities/control.ts';
import type { NewRun } from '../../activities/run.ts';
import { buildDemo } from '../../engine/demo/build.ts';
import { encodePng } from '../../store/images.ts';
import { readImageRows } from '../../store/image-tables.ts';
import { runLayout } from '../../store/layout.ts';
import type { S3Store } from '../../store/objects.ts';
import { readSampleRows } from '../../store/tables.ts';
import type { SampleRow } from '../../store/sample-rows.ts';
import { createControlWorker } from '../../workers/control.ts';
import { auditWorkflowId } from '../../workflows/audit.ts';
import type { AuditResult } from '../../workflows/audit.ts';
import { auditDatasetWorkflow } from '../../workflows/index.ts';
import { metricValue } from '../helpers/prometheus.ts';
import { connectTemporal, s3Store, temporalSettings, uniqueName, uploadFolder, useServiceEnvironment } from './services.ts';
import { killWorkers, spawnWorker, until } from './worker-process.ts';
import type { WorkerProcess } from './worker-process.ts';
import { quickDemoSampler } from '../fixtures/demo-sampler.ts';

/**
 * Sampling workers as separate processes (`fiberscope worker --queue sampling`), killed, stopped and
 * scraped as an operator's cluster would. The heartbeat timeout of these audits is 5 s: a worker
 * that dies is presumed dead 5 s after its last heartbeat, and its shard is retried elsewhere.
 */
const HEARTBEAT_TIMEOUT = '5 seconds';

const bucket = useServiceEnvironment();
process.env.FIBERSCOPE_CACHE_DIR = await mkdtemp(join(tmpdir(), 'fiberscope-cache-'));

const prefix = uniqueName('test/worker-faults');
const controlQueue = uniqueName('test-control');
const s3 = (key: string) => `s3://${bucket}/${prefix}/${key}`;
let connection: NativeConnection | undefined;
let store: S3Store;
let client: Client;
let control: Worker | undefined;
let controlRun: Promise<void> | undefined;
let queryFiles: string[];

before(async () => {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  connection = await connectTemporal();
  store = await s3Store(prefix);
  client = new Client({ connection, namespace: temporalSettings().namespace });
  const demo = await buildDemo(await mkdtemp(join(tmpdir(), 'fiberscope-demo-')));
  await uploadFolder(store, demo.prior, 'bundles/prior');
  await uploadFolder(store, demo.extractors[1]!.path, 'bundles/extractor');
  await uploadFolder(store, demo.dataset, 'dataset');
  queryFiles = (await readdir(demo.dataset)).sort();
  control = await createControlWorker({ connection, namespace: temporalSettings().namespace, store, taskQueue: controlQueue });
  controlRun = control.run();
});

after(async () => {
  await killWorkers();
  control?.shutdown();
  await controlRun;
  if (store !== undefined) {
    for (const key of await store.list('')) await store.delete(key);
    store.client.destroy();
  }
  await connection?.close();
});

/** A run of the demo's digits; `limit` null: the whole dataset. */
function runSpec(runId: string, over: Partial<NewRun> = {}, limit: number | null = 8): NewRun {
  return {
    runId,
    dataset: s3('dataset'),
    prior: s3('bundles/prior'),
    extractor: s3('bundles/extractor'),
    samplesPerImage: 2,
    sampler: quickDemoSampler(3),
    preset: 'imagenet-dinov2',
    probes: ['hflip'],
    batchImages: 1,
    shardSize: 8,
    resizeQueries: false,
    provider: 'cpu',
    ...(limit === null ? {} : { limit }),
    ...over,
  };
}

async function startAudit(spec: NewRun, samplingQueue: string) {
  return await client.workflow.start(auditDatasetWorkflow, {
    taskQueue: controlQueue,
    workflowId: auditWorkflowId(spec.runId!),
    args: [{ store: store.location, run: runRequestOf(spec), options: { samplingQueue, heartbeatTimeout: HEARTBEAT_TIMEOUT } }],
  });
}

const samplingWorker = (queue: string, ...extra: string[]) =>
  spawnWorker(['--queue', 'sampling', '--task-queue', queue, '--store', store.location, '--provider', 'cpu', ...extra]);

/** Two workers polling one queue; resolves with the one that took the audit's only shard, and the other. */
async function twoWorkers(queue: string, start: () => Promise<unknown>, ...extra: string[]): Promise<[WorkerProcess, WorkerProcess]> {
  const both = await Promise.all([samplingWorker(queue, ...extra), samplingWorker(queue, ...extra)]);
  await start();
  let taker: WorkerProcess | undefined;
  await until('a worker to take the shard', async () => {
    for (const w of both) if ((await counter(w, 'fiberscope_images_processed_total', { status: 'ok' })) >= 1) taker = w;
    return taker !== undefined;
  });
  return taker === both[0] ? [both[0], both[1]] : [both[1], both[0]];
}

const counter = async (w: WorkerProcess, name: string, labels: Record<string, string> = {}) => metricValue(await w.metrics(), name, labels) ?? 0;

async function storedBatches(runId: string, shard: string): Promise<string[]> {
  return (await store.list(runLayout(runId).shardParts(shard))).filter((k) => k.endsWith('.json'));
}

type History = Awaited<ReturnType<Awaited<ReturnType<typeof startAudit>>['fetchHistory']>>;

/** The recorded start of each sampleShard activity: Temporal keeps the last attempt's, with the failure before it. */
function shardStarts(history: History) {
  const events = history.events ?? [];
  const sampling = new Set(events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'sampleShard').map((e) => String(e.eventId)));
  return events.flatMap((e) => {
    const started = e.activityTaskStartedEventAttributes;
    return started && sampling.has(String(started.scheduledEventId)) ? [started] : [];
  });
}

/** Every row of the run's shard tables, checked to hold exactly one row per (image, sample). */
async function completeRows(runId: string, shards: string[], images: number, k: number): Promise<SampleRow[]> {
  const rows: SampleRow[] = [];
  for (const shard of shards) rows.push(...readSampleRows(await store.get(runLayout(runId).shardTable(shard))));
  const keys = rows.map((r) => `${r.image_id}/${r.sample_index}`);
  assert.equal(new Set(keys).size, keys.length, 'no (image, sample) twice');
  assert.equal(rows.length, images * k, 'no (image, sample) missing');
  assert.equal(new Set(rows.map((r) => r.image_id)).size, images);
  for (const r of rows) assert.ok(r.sample_index >= 0 && r.sample_index < k);
  const layout = runLayout(runId);
  for (const key of [layout.manifest, layout.summary, layout.summaryJson, layout.report]) assert.ok(await store.exists(key), key);
  assert.equal(readImageRows(await store.get(layout.summary)).length, images);
  assert.deepEqual(await store.list(`${layout.base}/parts/`), [], 'every batch gathered into its shard table');
  return rows;
}

test('a sampling worker process SIGKILLed mid-shard: a second worker finishes the audit from the last stored batch', async () => {
  const id = uniqueName('kill');
  const queue = uniqueName('q-kill');
  let handle!: Awaited<ReturnType<typeof startAudit>>;
  const [first, second] = await twoWorkers(queue, async () => (handle = await startAudit(runSpec(id), queue)));
  await until('three batches sampled by the first worker', async () => (await counter(first, 'fiberscope_images_processed_total', { status: 'ok' })) >= 3);
  first.child.kill('SIGKILL');
  assert.equal((await first.exited).signal, 'SIGKILL');
  const stored = (await storedBatches(id, 'shard-00000')).length;
  assert.ok(stored >= 3 && stored < 8, `killed mid-shard: ${stored} of 8 batches stored`);
  const result = (await handle.result()) as AuditResult;
  assert.deepEqual([result.okRows, result.errorRows], [16, 0]);
  assert.equal(await counter(second, 'fiberscope_batches_skipped_total'), stored, 'the batches stored before the kill were not sampled again');
  assert.equal(await counter(second, 'fiberscope_images_processed_total', { status: 'ok' }), 8 - stored, 'only the rest was sampled');
  const rows = await completeRows(id, ['shard-00000'], 8, 2);
  for (const r of rows) assert.ok(r.status === 'ok' && (await store.exists(r.image_key!)), r.image_key ?? r.image_id);

  const started = shardStarts(await handle.fetchHistory());
  assert.equal(started.length, 1);
  assert.equal(started[0]!.attempt, 2, 'the shard completed on its second attempt, the first was lost with the worker');
  assert.match(started[0]!.lastFailure?.message ?? '', /heartbeat/i, 'found dead by its missed heartbeats');
  second.child.kill('SIGTERM');
  assert.equal((await second.exited).code, 0);
});

test('a sampling worker given SIGTERM mid-shard stores its running batch, hands the shard back and exits within the grace period', async () => {
  const id = uniqueName('term');
  const queue = uniqueName('q-term');
  const graceSeconds = 30;
  let handle!: Awaited<ReturnType<typeof startAudit>>;
  const [worker, second] = await twoWorkers(queue, async () => (handle = await startAudit(runSpec(id), queue)), '--shutdown-grace', String(graceSeconds));
  await until('two batches sampled', async () => (await counter(worker, 'fiberscope_images_processed_total', { status: 'ok' })) >= 2);
  const doneAtSignal = await counter(worker, 'fiberscope_images_processed_total', { status: 'ok' });
  const signalled = Date.now();
  worker.child.kill('SIGTERM');
  let readiness = 200 as number | 'closed';
  await until('the worker to turn not-ready', async () => {
    readiness = await fetch(`http://127.0.0.1:${worker.port}/readyz`).then(
      (r) => r.status,
      () => 'closed' as const,
    );
    return readiness !== 200;
  }, 10_000);
  assert.ok(readiness === 503 || readiness === 'closed', `not ready while draining: ${readiness}`);
  const { code } = await worker.exited;
  const seconds = (Date.now() - signalled) / 1000;
  assert.equal(code, 0, worker.output());
  assert.ok(seconds < graceSeconds, `exited ${seconds.toFixed(1)} s after SIGTERM`);
  assert.match(worker.output(), /SIGTERM, draining/);

  const result = (await handle.result()) as AuditResult;
  assert.equal(result.okRows, 16);
  const history = await handle.fetchHistory();
  // A hand-back that Temporal retries is recorded on the retried attempt, not as a failed event.
  assert.equal((history.events ?? []).filter((e) => e.activityTaskFailedEventAttributes).length, 0);
  const started = shardStarts(history);
  assert.equal(started.length, 1);
  assert.equal(started[0]!.attempt, 2);
  assert.equal(started[0]!.lastFailure?.applicationFailureInfo?.type, 'ShardHandedBack');
  const handedBackAt = Number(/worker shutting down: shard shard-00000 handed back at image (\d+)/.exec(started[0]!.lastFailure?.message ?? '')?.[1]);
  // One image per batch: the batch running at the signal was finished and stored, and no other begun.
  assert.ok(handedBackAt > doneAtSignal && handedBackAt < 8, `handed back at image ${handedBackAt}, ${doneAtSignal} done at SIGTERM`);
  assert.equal(await counter(second, 'fiberscope_batches_skipped_total'), handedBackAt, 'the second worker resumed after the stored batches');
  assert.equal(await counter(second, 'fiberscope_images_processed_total', { status: 'ok' }), 8 - handedBackAt);
  await completeRows(id, ['shard-00000'], 8, 2);
  second.child.kill('SIGTERM');
  assert.equal((await second.exited).code, 0);
});

test('a corrupt image, a missing object and an image of the wrong size become error rows; the rest complete; the worker metrics match the rows', async () => {
  const id = uniqueName('bad-images');
  const queue = uniqueName('q-bad');
  const dataset = 'bad-dataset';
  for (const f of queryFiles.slice(0, 5)) await store.put(`${dataset}/${f}`, await store.get(`dataset/${f}`));
  await store.put(`${dataset}/corrupt.png`, new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4, 5]));
  await store.put(`${dataset}/wrong-size.png`, encodePng(new Float32Array(32 * 32).fill(0.25), [1, 32, 32], [-1, 1]));
  const gone = queryFiles[0]!;
  // Two images per batch, two shards, and no sampling worker until the run is prepared.
  const handle = await startAudit(runSpec(id, { dataset: s3(dataset), batchImages: 2, shardSize: 4 }, null), queue);
  await until('the run to be prepared', () => store.exists(runLayout(id).manifest));
  // Listed when the run was prepared, gone before it is read: a missing object.
  await store.delete(`${dataset}/${gone}`);

  const worker = await samplingWorker(queue);
  let finished = false;
  const done = handle.result().finally(() => (finished = true));
  const seen: number[] = [];
  while (!finished) {
    const text = await worker.metrics();
    seen.push((metricValue(text, 'fiberscope_samples_processed_total', { status: 'ok' }) ?? 0) + (metricValue(text, 'fiberscope_samples_processed_total', { status: 'error' }) ?? 0));
    await new Promise((r) => setTimeout(r, 100));
  }
  const result = (await done) as AuditResult;
  assert.ok(seen.some((n) => n > 0 && n < 14), `scraped during the audit: ${seen.join(',')}`);
  assert.ok(seen.every((n, i) => i === 0 || n >= seen[i - 1]!), 'counters never go back');

  const rows = await completeRows(id, ['shard-00000', 'shard-00001'], 7, 2);
  const errorOf = (imageId: string) => {
    const r = rows.filter((x) => x.image_id === imageId);
    assert.equal(r.length, 2, imageId);
    assert.ok(r.every((x) => x.status === 'error' && x.cost === null && x.image_key === null), imageId);
    return r[0]!.error ?? '';
  };
  assert.match(errorOf('corrupt'), /^image corrupt: could not decode png image/i);
  assert.match(errorOf('wrong-size'), /^image wrong-size: expected 28×28 pixels, got 32×32 \(resizing was not asked for\)/);
  const goneId = gone.replace(/\.png$/, '');
  assert.match(errorOf(goneId), new RegExp(`^image ${goneId}: no object '${gone.replace('.', '\\.')}' in s3://`));
  const ok = rows.filter((r) => r.status === 'ok');
  assert.equal(ok.length, 8, 'the four readable images are sampled');
  for (const r of ok) assert.ok(r.error === null && Number.isFinite(r.cost) && (await store.exists(r.image_key!)));
  assert.deepEqual([result.okRows, result.errorRows, result.images], [8, 6, 7]);

  const text = await worker.metrics();
  const v = (name: string, labels: Record<string, string> = {}) => metricValue(text, name, labels);
  assert.equal(v('fiberscope_samples_processed_total', { status: 'ok' }), ok.length);
  assert.equal(v('fiberscope_samples_processed_total', { status: 'error' }), rows.length - ok.length);
  assert.equal(v('fiberscope_error_rows_total', { kind: 'image_missing' }), rows.filter((r) => r.image_id === goneId).length);
  assert.equal(v('fiberscope_error_rows_total', { kind: 'image_invalid' }), rows.filter((r) => r.image_id === 'corrupt' || r.image_id === 'wrong-size').length);
  assert.equal(v('fiberscope_error_rows_total', { kind: 'sample_non_finite' }), 0);
  assert.equal(v('fiberscope_images_processed_total', { status: 'ok' }), 4);
  assert.equal(v('fiberscope_images_processed_total', { status: 'error' }), 3);
  assert.equal(v('fiberscope_batch_duration_seconds_count'), 4, 'seven images in batches of two over two shards of four');
  assert.equal(v('fiberscope_shards_total', { outcome: 'completed' }), 2);
  assert.equal(v('fiberscope_shard_duration_seconds_count', { outcome: 'completed' }), 2);
  assert.ok((v('fiberscope_samples_per_second') ?? 0) > 0);
  assert.ok((v('fiberscope_onnx_sessions') ?? 0) >= 1, 'the pair is loaded');
  assert.ok((v('fiberscope_process_resident_memory_bytes') ?? 0) > 50e6);
  assert.match(text, /^fiberscope_images_processed_total\{status="ok",queue="sampling",task_queue="[^"]+"\} 4$/m);
  worker.child.kill('SIGINT');
  assert.equal((await worker.exited).code, 0);
});
