import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import type { Info } from '@temporalio/activity';
import { createControlActivities, runRequestOf } from '../../../activities/control.ts';
import type { RunRequest } from '../../../activities/control.ts';
import { cachedPairLoader } from '../../../activities/pairs.ts';
import { createSamplingActivities } from '../../../activities/shards.ts';
import type { ShardHeartbeat } from '../../../activities/shards.ts';
import type { ShardInput, ShardResult } from '../../../activities/sampling.ts';
import { buildDemo } from '../../../engine/demo/build.ts';
import { InputError } from '../../../engine/errors.ts';
import { runLayout } from '../../../store/layout.ts';
import { FileStore } from '../../../store/objects.ts';
import { readSampleRows } from '../../../store/tables.ts';
import { quickDemoSampler } from '../../fixtures/demo-sampler.ts';

const root = await mkdtemp(join(tmpdir(), 'fiberscope-activities-'));
const demo = await buildDemo(join(root, 'demo'));
const store = new FileStore(join(root, 'store'));
const control = createControlActivities({ store });
const sampling = createSamplingActivities({ store, loadPair: cachedPairLoader() });

function request(runId: string): RunRequest {
  return runRequestOf({
    runId,
    dataset: demo.dataset,
    prior: demo.prior,
    extractor: demo.extractors[0]!.path,
    samplesPerImage: 2,
    sampler: quickDemoSampler(2),
    preset: 'imagenet-dinov2',
    probes: ['hflip'],
    batchImages: 1,
    shardSize: 3,
    resizeQueries: false,
    provider: 'cpu',
    limit: 5,
  });
}

const quiet = { logger: new DefaultLogger('ERROR') };
const mockEnv = (info: Partial<Info> = {}) => new MockActivityEnvironment(info, quiet);
const attempt = (n: number) => mockEnv({ attempt: n });
const sample = (env: MockActivityEnvironment, input: ShardInput) => env.run(sampling.sampleShard, input) as Promise<ShardResult>;
const inputError = (pattern: RegExp) => (e: unknown) => e instanceof InputError && pattern.test(e.message);

test('prepareRun creates the run and returns counts only; a first attempt refuses an existing run, a retry reuses it', async () => {
  const prepared = await attempt(1).run(control.prepareRun, { store: store.location, run: request('prep') });
  assert.deepEqual(prepared, { runId: 'prep', location: store.location, imageCount: 5, shardSize: 3, shardCount: 2, hasReference: false });
  assert.ok(await store.exists(runLayout('prep').manifest));
  await assert.rejects(attempt(1).run(control.prepareRun, { store: store.location, run: request('prep') }), inputError(/already exists/));
  assert.deepEqual(await attempt(2).run(control.prepareRun, { store: store.location, run: request('prep') }), prepared);
  assert.deepEqual(await attempt(1).run(control.prepareRun, { store: join(root, 'store'), run: { resume: 'prep' } }), prepared);
});

test('prepareRun refuses a missing run to resume and a store the worker does not write to', async () => {
  await assert.rejects(attempt(1).run(control.prepareRun, { store: store.location, run: { resume: 'nope' } }), inputError(/^resume: no run 'nope'/));
  await assert.rejects(attempt(1).run(control.prepareRun, { store: join(root, 'other'), run: request('x') }), inputError(/^store: the workers write to file:\/\//));
  assert.equal(await store.exists(runLayout('x').manifest), false);
});

test('sampleShard heartbeats the next image after each batch; a finished shard is read back, not sampled again', async () => {
  await attempt(1).run(control.prepareRun, { store: store.location, run: request('beats') });
  const env = mockEnv({ heartbeatTimeoutMs: 60_000 });
  const beats: ShardHeartbeat[] = [];
  env.on('heartbeat', (d: ShardHeartbeat) => beats.push(d));
  const result = await sample(env, { runId: 'beats', shard: 'shard-00000', start: 0, end: 3 });
  assert.deepEqual({ ...result, seconds: 0 }, { shard: 'shard-00000', images: 3, okRows: 6, errorRows: 0, tableKey: runLayout('beats').shardTable('shard-00000'), seconds: 0 });
  assert.deepEqual(beats.map((b) => b.nextImage), [0, 1, 2, 3]);
  const before = await store.get(result.tableKey);
  const again = await sample(mockEnv(), { runId: 'beats', shard: 'shard-00000', start: 0, end: 3 });
  assert.deepEqual({ ...again, seconds: 1 }, { ...result, seconds: 1 });
  assert.equal(again.seconds, 0);
  assert.deepEqual(await store.get(result.tableKey), before);
});

test('a cancelled sampleShard stops after the batch in progress; the retry resumes from the stored batches', async () => {
  await attempt(1).run(control.prepareRun, { store: store.location, run: request('cancel') });
  const layout = runLayout('cancel');
  const env = mockEnv({ heartbeatTimeoutMs: 60_000 });
  env.on('heartbeat', (d: ShardHeartbeat) => {
    if (d.nextImage === 4) env.cancel();
  });
  await assert.rejects(sample(env, { runId: 'cancel', shard: 'shard-00001', start: 3, end: 5 }), (e: unknown) => e instanceof CancelledFailure);
  assert.equal(await store.exists(layout.shardTable('shard-00001')), false);
  assert.deepEqual(
    (await store.list(layout.shardParts('shard-00001'))).filter((k) => k.endsWith('.json')),
    [layout.shardPart('shard-00001', 3) + '.json'],
  );
  const retry = mockEnv({ attempt: 2, heartbeatDetails: { nextImage: 4 } });
  const result = await sample(retry, { runId: 'cancel', shard: 'shard-00001', start: 3, end: 5 });
  assert.equal(result.okRows, 4);
  const rows = readSampleRows(await store.get(layout.shardTable('shard-00001')));
  assert.deepEqual(rows.map((r) => `${r.image_id}/${r.sample_index}`).sort(), [...new Set(rows.map((r) => `${r.image_id}/${r.sample_index}`))].sort());
  assert.equal(rows.length, 4);
});
