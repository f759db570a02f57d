import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure, Client, WorkflowFailedError } from '@temporalio/client';
import { fileURLToPath } from 'node:url';
import { DefaultLogger, Runtime, Worker as ReplayWorker } from '@temporalio/worker';
import type { NativeConnection } from '@temporalio/worker';
import { main } from '../../cli/main.ts';
import { runRequestOf } from '../../activities/control.ts';
import { runLocalAudit } from '../../activities/local-engine.ts';
import { cachedPairLoader } from '../../activities/pairs.ts';
import type { NewRun } from '../../activities/run.ts';
import { buildDemo } from '../../engine/demo/build.ts';
import { loadDigits } from '../../engine/demo/mnist.ts';
import { encodePng } from '../../store/images.ts';
import { readImageRows } from '../../store/image-tables.ts';
import { runLayout } from '../../store/layout.ts';
import { FileStore } from '../../store/objects.ts';
import type { ObjectStore, S3Store } from '../../store/objects.ts';
import { readSampleRows } from '../../store/tables.ts';
import type { SampleRow } from '../../store/sample-rows.ts';
import { createSamplingWorker } from '../../workers/sampling.ts';
import { auditProgressQuery, auditWorkflowId } from '../../workflows/audit.ts';
import type { AuditInput, AuditProgress, AuditResult } from '../../workflows/audit.ts';
import { auditDatasetWorkflow } from '../../workflows/index.ts';
import { captureStdout } from '../unit/cli/fixtures.ts';
import { Gate, OutageOnce } from './interposed.ts';
import { connectTemporal, s3Store, startWorkers, temporalSettings, uniqueName, uploadFolder, useServiceEnvironment } from './services.ts';
import type { InProcessWorkers } from './services.ts';
import { quickDemoSampler } from '../fixtures/demo-sampler.ts';

const bucket = useServiceEnvironment();
process.env.FIBERSCOPE_CACHE_DIR = await mkdtemp(join(tmpdir(), 'fiberscope-cache-'));

const prefix = uniqueName('test/audit-workflow');
const controlQueue = uniqueName('test-control');
const samplingQueue = uniqueName('test-sampling');
const runId = uniqueName('wf');
const layout = runLayout(runId);
let connection: NativeConnection | undefined;
let store: S3Store | undefined;
let faulty: OutageOnce;
let client: Client;
let workers: InProcessWorkers | undefined;
let spec: NewRun;
let result: AuditResult;
let firstRunId: string;
const snapshots: AuditProgress[] = [];
let finalProgress: AuditProgress;

const upload = (dir: string, to: string) => uploadFolder(store!, dir, to);

async function rowsOf(s: ObjectStore, id: string, shards: string[]): Promise<SampleRow[]> {
  const rows: SampleRow[] = [];
  for (const shard of shards) rows.push(...readSampleRows(await s.get(runLayout(id).shardTable(shard))));
  return rows;
}

const SHARDS = ['shard-00000', 'shard-00001', 'shard-00002'];

before(async () => {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  connection = await connectTemporal();
  store = await s3Store(prefix);
  const { namespace } = temporalSettings();
  client = new Client({ connection, namespace });
  const demo = await buildDemo(await mkdtemp(join(tmpdir(), 'fiberscope-demo-')));
  await upload(demo.prior, 'bundles/prior');
  await upload(demo.extractors[1]!.path, 'bundles/extractor');
  await upload(demo.dataset, 'dataset');
  const s3 = (key: string) => `s3://${bucket}/${prefix}/${key}`;
  spec = {
    runId,
    dataset: s3('dataset'),
    prior: s3('bundles/prior'),
    extractor: s3('bundles/extractor'),
    samplesPerImage: 2,
    sampler: quickDemoSampler(11),
    preset: 'imagenet-dinov2',
    probes: ['hflip', 'vflip'],
    batchImages: 1,
    shardSize: 2,
    resizeQueries: false,
    provider: 'cpu',
    limit: 6,
  };
  // The second batch of the second shard fails once after its first batch is stored.
  faulty = new OutageOnce(store, layout.shardPart('shard-00001', 3) + '.json');
  workers = await startWorkers({ connection, namespace, store, controlQueue, samplingQueue, samplingStore: faulty });

  const input: AuditInput = {
    store: store.location,
    run: runRequestOf(spec),
    options: { window: 2, shardsPerExecution: 2, samplingQueue, heartbeatTimeout: '20 seconds' },
  };
  const handle = await client.workflow.start(auditDatasetWorkflow, { taskQueue: controlQueue, workflowId: auditWorkflowId(runId), args: [input] });
  firstRunId = handle.firstExecutionRunId;
  let finished = false;
  const done = handle.result().finally(() => (finished = true));
  while (!finished) {
    snapshots.push(await handle.query(auditProgressQuery));
    await new Promise((r) => setTimeout(r, 150));
  }
  result = await done;
  finalProgress = await handle.query(auditProgressQuery);
});

after(async () => {
  await workers?.stop();
  if (store !== undefined) {
    for (const key of await store.list('')) await store.delete(key);
    store.client.destroy();
  }
  await connection?.close();
});

test('the audit workflow writes a complete run folder to S3', async () => {
  assert.ok(store !== undefined);
  assert.deepEqual(
    { runId: result.runId, location: result.location, images: result.images, okRows: result.okRows, errorRows: result.errorRows },
    { runId, location: store.location, images: 6, okRows: 12, errorRows: 0 },
  );
  for (const key of [layout.manifest, layout.listingPage(0), layout.summary, layout.summaryJson, layout.report, ...SHARDS.map(layout.shardTable)]) {
    assert.ok(await store.exists(key), key);
  }
  assert.equal(result.reportKey, layout.report);
  assert.deepEqual(await store.list(`${layout.base}/parts/`), [], 'parts are gathered into shard tables and removed');
  const rows = await rowsOf(store, runId, SHARDS);
  assert.equal(rows.length, 12);
  for (const r of rows) assert.ok(r.status === 'ok' && (await store.exists(r.image_key!)), r.image_key ?? r.image_id);
  assert.equal(readImageRows(await store.get(layout.summary)).length, 6);
  assert.equal(result.summary.samples.ok, 12);
});

test('the progress query reports shards and images as they complete', () => {
  assert.ok(snapshots.length > 0);
  assert.ok(
    snapshots.some((p) => p.runId === runId && p.shardsDone > 0 && p.shardsDone < 3),
    `a snapshot mid-run: ${JSON.stringify(snapshots.map((p) => [p.phase, p.shardsDone]))}`,
  );
  for (const [i, p] of snapshots.entries()) {
    assert.ok(p.shardsInFlight <= 2, 'the window bounds shards in flight');
    if (i > 0) assert.ok(p.shardsDone >= snapshots[i - 1]!.shardsDone, 'shards done never goes back, across continue-as-new too');
    if (i > 0) assert.ok(p.imagesDone >= snapshots[i - 1]!.imagesDone, 'images done never goes back: a shard result replaces its batch reports');
  }
  assert.ok(snapshots.every((p) => p.startedAt === finalProgress.startedAt), 'the start time survives continue-as-new');
  assert.ok(Math.abs(Date.parse(finalProgress.startedAt) - Date.now()) < 5 * 60_000);
  assert.deepEqual(
    { ...finalProgress, startedAt: null, updatedAt: null, batchesDone: null },
    { startedAt: null, updatedAt: null, batchesDone: null, runId, phase: 'done', shardsDone: 3, shardsTotal: 3, shardsInFlight: 0, imagesDone: 6, imagesTotal: 6, okRows: 12, errorRows: 0, executions: 2, activeShards: [] },
  );
});

test('history stays bounded: the workflow continues as new after shardsPerExecution shards', async () => {
  assert.equal(result.executions, 2);
  const { events } = await client.workflow.getHandle(auditWorkflowId(runId), firstRunId).fetchHistory();
  const evs = events ?? [];
  assert.ok(evs.at(-1)?.workflowExecutionContinuedAsNewEventAttributes, 'the first execution ended in continue-as-new');
  const scheduled = evs.flatMap((e) => (e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes.activityType?.name] : []));
  assert.deepEqual(scheduled, ['prepareRun', 'sampleShard', 'sampleShard']);
});

test('the recorded histories replay deterministically against the workflow code', async () => {
  const workflowsPath = fileURLToPath(new URL('../../workflows/index.ts', import.meta.url));
  for (const runIdOf of [firstRunId, undefined]) {
    const history = await client.workflow.getHandle(auditWorkflowId(runId), runIdOf).fetchHistory();
    await ReplayWorker.runReplayHistory({ workflowsPath }, history);
  }
});

test('a sampling attempt that fails after one batch is retried, resumes, and leaves complete unique rows', async () => {
  assert.equal(faulty.failures, 1, 'the outage was injected');
  assert.equal(faulty.puts.get(layout.shardPart('shard-00001', 2) + '.json'), 1, 'the stored batch was not sampled again');
  assert.equal(faulty.puts.get(layout.shardPart('shard-00001', 3) + '.json'), 2);
  const { events } = await client.workflow.getHandle(auditWorkflowId(runId), firstRunId).fetchHistory();
  const attempts = (events ?? []).flatMap((e) => (e.activityTaskStartedEventAttributes ? [e.activityTaskStartedEventAttributes.attempt] : []));
  assert.deepEqual([...attempts].sort(), [1, 1, 2]);
  const rows = await rowsOf(store!, runId, ['shard-00001']);
  assert.deepEqual(rows.map((r) => `${r.image_id}/${r.sample_index}`).sort(), [
    ...new Set(rows.map((r) => `${r.image_id}/${r.sample_index}`)),
  ].sort());
  assert.equal(rows.length, 4);
});

test('results equal a local-engine run with the same seed, cost for cost', async () => {
  const local = new FileStore(await mkdtemp(join(tmpdir(), 'fiberscope-local-')));
  await runLocalAudit({ ...spec, runId: 'local' }, { store: local, loadPair: cachedPairLoader() });
  const key = (r: SampleRow) => `${r.image_id}/${r.sample_index}`;
  const byKey = (rows: SampleRow[]) => new Map(rows.map((r) => [key(r), [r.cost, r.fiber_metric, r.pixel_distance, r.nearest_probe]]));
  const temporal = byKey(await rowsOf(store!, runId, SHARDS));
  const embedded = byKey(await rowsOf(local, 'local', SHARDS));
  assert.equal(temporal.size, 12);
  assert.deepEqual(temporal, embedded);
});

test('resuming a run that does not exist fails at once as a non-retryable InputError', async () => {
  const handle = await client.workflow.start(auditDatasetWorkflow, {
    taskQueue: controlQueue,
    workflowId: uniqueName('audit-missing'),
    args: [{ store: store!.location, run: { resume: 'no-such-run' }, options: { samplingQueue } }],
  });
  const err = await handle.result().then(
    () => assert.fail('expected the workflow to fail'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof WorkflowFailedError);
  assert.ok(err.cause?.cause instanceof ApplicationFailure);
  assert.equal(err.cause.cause.type, 'InputError');
  assert.match(err.cause.cause.message, /no run 'no-such-run'/);
});

test('a store other than the workers\' is refused before any work', async () => {
  const err = await client.workflow
    .execute(auditDatasetWorkflow, {
      taskQueue: controlQueue,
      workflowId: uniqueName('audit-other-store'),
      args: [{ store: `s3://${bucket}/elsewhere`, run: runRequestOf({ ...spec, runId: uniqueName('never') }), options: { samplingQueue } }],
    })
    .then(
      () => assert.fail('expected the workflow to fail'),
      (e: unknown) => e,
    );
  assert.ok(err instanceof WorkflowFailedError && err.cause?.cause instanceof ApplicationFailure);
  assert.match(err.cause.cause.message, /the workers write to s3:\/\/.*, not s3:\/\/fiberscope\/elsewhere/);
});

function cliAudit(id: string, ...extra: string[]): string[] {
  const s3 = (key: string) => `s3://${bucket}/${prefix}/${key}`;
  return [
    'audit', '--engine', 'temporal', '--out', store!.location, '--run-id', id,
    '--dataset', s3('dataset'), '--prior', s3('bundles/prior'), '--extractor', s3('bundles/extractor'), '--limit', '3',
    '--k', '2', '--steps', '6', '--inner-steps', '1', '--lr', '0.05', '--update', 'ddim', '--variance', 'small', '--eta', '0',
    '--seed', '5', '--probes', 'hflip,vflip', '--batch-images', '2', '--shard-size', '2',
    '--task-queue', controlQueue, '--sampling-queue', samplingQueue, ...extra,
  ];
}

test('fiberscope audit --engine temporal submits, follows and prints the summary', async () => {
  const id = uniqueName('cli');
  const { code, stdout } = await captureStdout(() => main(cliAudit(id)));
  assert.equal(code, 0);
  assert.match(stdout, new RegExp(`^run ${id}: prior mnist-mirrored-mixture, extractor digits-flip-invariant`));
  assert.match(stdout, /images 3\/3 ok, samples 6\/6 ok/);
  assert.ok(stdout.includes(`report: ${store!.location}/${runLayout(id).report}`));
  assert.ok(await store!.exists(runLayout(id).summaryJson));
});

test('--detach returns at once; a second audit of the same run is refused while it runs, then --resume finishes it', async () => {
  const id = uniqueName('cli-detach');
  const detached = await captureStdout(() => main(cliAudit(id, '--detach', '--json')));
  assert.equal(detached.code, 0);
  assert.deepEqual(JSON.parse(detached.stdout), { runId: id, workflowId: auditWorkflowId(id), location: store!.location });
  const again = await captureStdout(() => main(cliAudit(id)));
  assert.equal(again.code, 2, 'the run already has an audit in flight');
  const first = (await client.workflow.getHandle(auditWorkflowId(id)).result()) as AuditResult;
  assert.equal(first.okRows, 6);
  const resumed = await captureStdout(() => main(cliAudit(id, '--resume', id, '--json')));
  assert.equal(resumed.code, 0);
  const summary = JSON.parse(resumed.stdout) as AuditResult['summary'];
  assert.equal(summary.runId, id);
  assert.deepEqual(summary.samples, { total: 6, ok: 6, error: 0 });
  assert.deepEqual(summary.cost, first.summary.cost, 'resuming a finished run samples nothing again');
});

test('a cancelled audit stops its sampling activity mid-shard; resuming the run completes it without duplicates', async () => {
  const id = uniqueName('cancel');
  const at = runLayout(id);
  const queue = uniqueName('test-sampling-gated');
  const gate = new Gate(store!, at.shardPart('shard-00000', 2) + '.json');
  const { namespace } = temporalSettings();
  const gated = await createSamplingWorker({ connection: connection!, namespace, store: gate, loadPair: cachedPairLoader(), taskQueue: queue });
  const gatedRun = gated.run();
  try {
    const options = { samplingQueue: queue, heartbeatTimeout: '3 seconds' };
    const run = runRequestOf({ ...spec, runId: id, limit: 4, shardSize: 4 });
    const handle = await client.workflow.start(auditDatasetWorkflow, { taskQueue: controlQueue, workflowId: auditWorkflowId(id), args: [{ store: store!.location, run, options }] });
    await gate.reached;
    await handle.cancel();
    // The activity learns of the cancellation from a heartbeat while its write is held, then stops.
    await new Promise((r) => setTimeout(r, 5000));
    gate.release();
    await assert.rejects(handle.result(), (e: unknown) => e instanceof WorkflowFailedError && /cancel/i.test(String(e.cause)));
    const { events } = await handle.fetchHistory();
    assert.ok((events ?? []).some((e) => e.activityTaskCanceledEventAttributes), 'the sampling activity acknowledged the cancellation');
    assert.equal(gate.puts.get(at.shardPart('shard-00000', 3) + '.json') ?? 0, 0, 'no batch after the cancellation was sampled');
    assert.equal(await store!.exists(at.shardTable('shard-00000')), false);

    const resumed = await client.workflow.execute(auditDatasetWorkflow, {
      taskQueue: controlQueue,
      workflowId: auditWorkflowId(id),
      args: [{ store: store!.location, run: { resume: id }, options }],
    });
    assert.equal(resumed.okRows, 8);
    const rows = await rowsOf(store!, id, ['shard-00000']);
    assert.equal(new Set(rows.map((r) => `${r.image_id}/${r.sample_index}`)).size, 8);
    assert.equal(gate.puts.get(at.shardPart('shard-00000', 2) + '.json'), 1, 'the batch held at cancellation was stored once, not sampled again');
  } finally {
    gated.shutdown();
    await gatedRun;
  }
});

test('a run with a reference set embeds it on the sampling queue, and the baseline comes from it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'fiberscope-reference-'));
  for (const d of loadDigits({ labels: [0, 5], perLabel: 2, offset: 700 })) {
    await writeFile(join(dir, `r${d.label}-${d.index}.png`), encodePng(d.pixels, [1, 28, 28], [-1, 1]));
  }
  await upload(dir, 'reference');
  const id = uniqueName('wf-ref');
  const input: AuditInput = {
    store: store!.location,
    run: runRequestOf({ ...spec, runId: id, limit: 2, reference: `s3://${bucket}/${prefix}/reference` }),
    options: { samplingQueue },
  };
  const done = await client.workflow.execute(auditDatasetWorkflow, { taskQueue: controlQueue, workflowId: auditWorkflowId(id), args: [input] });
  assert.equal(done.okRows, 4);
  const rows = readImageRows(await store!.get(runLayout(id).summary));
  assert.equal(rows.length, 2);
  for (const r of rows) assert.match(r.nn_image_id!, /^r[05]-70[01]$/);
});
