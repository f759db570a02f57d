import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { NativeConnection } from '@temporalio/worker';
import { cachedPairLoader } from '../../activities/pairs.ts';
import { main } from '../../cli/main.ts';
import { buildDemo } from '../../engine/demo/build.ts';
import type { DemoPaths } from '../../engine/demo/build.ts';
import { runLayout } from '../../store/layout.ts';
import { S3Store } from '../../store/objects.ts';
import { readSampleRows } from '../../store/tables.ts';
import type { SampleRow } from '../../store/sample-rows.ts';
import { createSamplingWorker } from '../../workers/sampling.ts';
import { captureStderr } from '../unit/cli/fixtures.ts';
import { privateServices } from './faults.ts';
import type { PrivateServices } from './faults.ts';
import { connectTemporal, startWorkers, temporalSettings, uniqueName } from './services.ts';
import type { InProcessWorkers } from './services.ts';

// The S3 server of this file is its own (it is stopped mid-run); Temporal is the shared one.
process.env.FIBERSCOPE_CACHE_DIR = await mkdtemp(join(tmpdir(), 'fiberscope-cache-'));
const controlQueue = uniqueName('test-failures-control');
const samplingQueue = uniqueName('test-failures-sampling');
const prefix = uniqueName('audit-failures');
let services: PrivateServices | undefined;
let store: S3Store;
let storeSpec: string;
let connection: NativeConnection | undefined;
let demo: DemoPaths;
let workers: InProcessWorkers | undefined;
const SHARDS = 4;

before(async () => {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  services = await privateServices('audit-failures', { services: ['s3'] });
  for (const [k, v] of Object.entries(services.env)) if (k.startsWith('FIBERSCOPE_S3_')) process.env[k] = v;
  storeSpec = `s3://${services.env.FIBERSCOPE_S3_BUCKET}/${prefix}`;
  store = new S3Store({
    bucket: services.env.FIBERSCOPE_S3_BUCKET!,
    prefix,
    endpoint: services.env.FIBERSCOPE_S3_ENDPOINT!,
    region: services.env.FIBERSCOPE_S3_REGION!,
    credentials: { accessKeyId: services.env.FIBERSCOPE_S3_ACCESS_KEY!, secretAccessKey: services.env.FIBERSCOPE_S3_SECRET_KEY! },
  });
  demo = await buildDemo(await mkdtemp(join(tmpdir(), 'fiberscope-demo-')));
  connection = await connectTemporal();
  const { namespace } = temporalSettings();
  workers = await startWorkers({ connection, namespace, store, controlQueue, samplingQueue });
});

after(async () => {
  await workers?.stop();
  store?.client.destroy();
  await connection?.close();
  await services?.down();
});

function audit(id: string, prior: string, ...extra: string[]): string[] {
  return [
    'audit', '--engine', 'temporal', '--out', storeSpec, '--run-id', id,
    '--dataset', demo.dataset, '--prior', prior, '--extractor', demo.extractors[1]!.path, '--limit', String(2 * SHARDS),
    '--k', '2', '--steps', '4', '--inner-steps', '1', '--lr', '0.05', '--update', 'ddim', '--variance', 'small', '--eta', '0',
    '--seed', '5', '--probes', 'hflip,vflip', '--batch-images', '1', '--shard-size', '2', '--window', '1',
    '--task-queue', controlQueue, ...extra,
  ];
}

async function waitFor(what: string, check: () => Promise<boolean>, ms = 120_000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) if (await check()) return;
  assert.fail(`timed out waiting for ${what}`);
}

async function allRows(id: string): Promise<SampleRow[]> {
  const keys = (await store.list(`${runLayout(id).base}/shards/`)).filter((k) => /shard-\d+\.arrow$/.test(k));
  return (await Promise.all(keys.map(async (k) => readSampleRows(await store.get(k), k)))).flat();
}

const NO_STACK = /\n\s+at .+:\d+:\d+/;
const runId = uniqueName('outage');

test('S3 stopped mid-run past the retry budget: one message and exit 4; --resume after the outage completes the run, one row per sample', async () => {
  assert.ok(services !== undefined);
  const layout = runLayout(runId);
  const submitted = captureStderr(() => main(audit(runId, demo.prior, '--sampling-queue', samplingQueue)));
  await waitFor('the first shard table', () => store.exists(layout.shardTable('shard-00000')));
  const stopped = services.stop('s3');
  const { code, stderr } = await submitted;
  await stopped;
  assert.equal(code, 4, stderr);
  const endpoint = services.env.FIBERSCOPE_S3_ENDPOINT!;
  assert.match(stderr, new RegExp(`fiberscope: run ${runId} failed while sampling shard shard-000\\d\\d: storage unreachable at ${endpoint}`));
  assert.match(stderr, /kept: /);
  const resume = `fiberscope audit --resume ${runId} --out ${storeSpec} --engine temporal --task-queue ${controlQueue} --sampling-queue ${samplingQueue}`;
  assert.ok(stderr.includes(`to finish the run: ${resume}`), stderr);
  assert.doesNotMatch(stderr, NO_STACK);
  assert.ok(!stderr.includes(services.env.FIBERSCOPE_S3_SECRET_KEY!), 'no credentials in the message');

  await services.start('s3');
  assert.ok(await store.exists(layout.shardTable('shard-00000')), 'the shard finished before the outage is kept');
  const resumed = await captureStderr(() => main(resume.split(' ').slice(1)));
  assert.equal(resumed.code, 0, resumed.stderr);
  const rows = await allRows(runId);
  assert.equal(rows.length, 2 * SHARDS * 2, 'every (image, sample) once');
  assert.equal(new Set(rows.map((r) => `${r.image_id}#${r.sample_index}`)).size, rows.length, 'no duplicates');
  assert.ok(rows.every((r) => r.status === 'ok'));
  assert.ok(await store.exists(layout.summaryJson));
  // While the store was down the failure could not be recorded; the finished run's record says done.
  const status = JSON.parse(new TextDecoder().decode(await store.get(layout.status))) as { state: string };
  assert.equal(status.state, 'done');
});

test('wrong credentials and a missing bucket: one line naming the endpoint, exit 2, the run untouched', async () => {
  assert.ok(services !== undefined);
  const before = await store.list(`${runLayout(runId).base}/`);
  assert.ok(before.length > 0);
  const secret = process.env.FIBERSCOPE_S3_SECRET_KEY!;
  const endpoint = services.env.FIBERSCOPE_S3_ENDPOINT!;
  process.env.FIBERSCOPE_S3_SECRET_KEY = 'not-the-secret-1234';
  try {
    const { code, stderr } = await captureStderr(() => main(['audit', '--resume', runId, '--out', storeSpec]));
    assert.equal(code, 2, stderr);
    assert.match(stderr, new RegExp(`^fiberscope: storage credentials refused by ${endpoint} for ${storeSpec}.*check FIBERSCOPE_S3_ACCESS_KEY and FIBERSCOPE_S3_SECRET_KEY`));
    assert.ok(!stderr.includes('not-the-secret-1234') && !stderr.includes(secret));
    assert.doesNotMatch(stderr, NO_STACK);
  } finally {
    process.env.FIBERSCOPE_S3_SECRET_KEY = secret;
  }
  const missing = await captureStderr(() => main(['audit', '--resume', runId, '--out', 's3://no-such-bucket-fiberscope/x']));
  assert.equal(missing.code, 2, missing.stderr);
  assert.match(missing.stderr, new RegExp(`^fiberscope: storage bucket missing: s3://no-such-bucket-fiberscope/x does not exist at ${endpoint}`));
  assert.deepEqual(await store.list(`${runLayout(runId).base}/`), before, 'nothing written is lost');
});

test('an unknown Temporal namespace: its name and what to check, exit 2', async () => {
  const namespace = process.env.FIBERSCOPE_TEMPORAL_NAMESPACE;
  process.env.FIBERSCOPE_TEMPORAL_NAMESPACE = 'no-such-namespace-fiberscope';
  try {
    const { code, stderr } = await captureStderr(() => main(['audit', '--engine', 'temporal', '--resume', runId, '--out', storeSpec, '--task-queue', controlQueue]));
    assert.equal(code, 2, stderr);
    assert.match(stderr, /Temporal namespace 'no-such-namespace-fiberscope' not found; check FIBERSCOPE_TEMPORAL_NAMESPACE/);
    assert.doesNotMatch(stderr, NO_STACK);
  } finally {
    if (namespace === undefined) delete process.env.FIBERSCOPE_TEMPORAL_NAMESPACE;
    else process.env.FIBERSCOPE_TEMPORAL_NAMESPACE = namespace;
  }
});

test('a bundle that differs only on the worker fails its first shard: exit 2, the bundle named, the run resumable', async () => {
  assert.ok(connection !== undefined);
  const id = uniqueName('bundle');
  const layout = runLayout(id);
  const prior = join(await mkdtemp(join(tmpdir(), 'fiberscope-prior-')), 'prior');
  await cp(demo.prior, prior, { recursive: true });
  // Sampling starts only once the bundle has changed: the submitter checked the original one.
  const lateQueue = uniqueName('test-failures-late');
  const submitted = captureStderr(() => main(audit(id, prior, '--sampling-queue', lateQueue)));
  await waitFor('the run manifest', () => store.exists(layout.manifest));
  const manifest = join(prior, 'fiberscope.json');
  await writeFile(manifest, (await readFile(manifest, 'utf8')) + '\n');
  const late = await createSamplingWorker({ connection, namespace: temporalSettings().namespace, store, loadPair: cachedPairLoader(), taskQueue: lateQueue });
  const lateRun = late.run();
  try {
    const { code, stderr } = await submitted;
    assert.equal(code, 2, stderr);
    assert.match(stderr, new RegExp(`run ${id} failed while sampling shard shard-00000: prior bundle ${prior}: differs on this worker from the bundle the run recorded \\(fiberscope.json\\)`));
    assert.match(stderr, /kept: 0 of 4 shards done, 0 batches of shard-00000/);
    assert.match(stderr, new RegExp(`to finish the run: fiberscope audit --resume ${id} --out ${storeSpec} --engine temporal`));
    assert.doesNotMatch(stderr, NO_STACK);
    assert.ok(await store.exists(layout.manifest), 'the run is kept');
  } finally {
    late.shutdown();
    await lateRun;
  }
});
