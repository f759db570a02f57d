import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLocalAudit } from '../../../activities/local-engine.ts';
import { cachedPairLoader } from '../../../activities/pairs.ts';
import { createRun } from '../../../activities/run.ts';
import { sampleShard } from '../../../activities/sampling.ts';
import type { NewRun } from '../../../activities/run.ts';
import type { PairLoader } from '../../../activities/sampling.ts';
import type { FiberObjective } from '../../../engine/guidance/objective.ts';
import { demoExtractor } from '../../../engine/demo/build.ts';
import { loadDigits } from '../../../engine/demo/mnist.ts';
import { resolveSamplerOptions } from '../../../engine/guidance/options.ts';
import { saveModel } from '../../../engine/onnx/index.ts';
import { gaussianMixturePrior } from '../../../engine/priors/analytic.ts';
import { readImageRows } from '../../../store/image-tables.ts';
import { encodePng } from '../../../store/images.ts';
import { runLayout } from '../../../store/layout.ts';
import { FileStore } from '../../../store/objects.ts';
import { readSampleRows } from '../../../store/tables.ts';
import type { SampleRow } from '../../../store/sample-rows.ts';

const root = await mkdtemp(join(tmpdir(), 'fiberscope-local-'));

/** A small real setup: a mixture prior over 20 MNIST digits, the demo's layout extractor, 3 held-out digits + 2 bad files. */
async function fixture() {
  const priorDir = join(root, 'prior');
  const extractorDir = join(root, 'extractor');
  const dataset = join(root, 'dataset');
  await Promise.all([mkdir(priorDir, { recursive: true }), mkdir(extractorDir, { recursive: true }), mkdir(dataset, { recursive: true })]);
  const prior = gaussianMixturePrior({
    shape: [1, 28, 28],
    range: [-1, 1],
    clip: [-1, 1],
    means: loadDigits({ perLabel: 2 }).map((d) => d.pixels),
    stds: new Array<number>(20).fill(0.1),
  });
  prior.manifest.name = 'test-mixture';
  saveModel(prior.model, join(priorDir, prior.manifest.denoiser.file));
  await writeFile(join(priorDir, 'fiberscope.json'), JSON.stringify(prior.manifest));
  saveModel(demoExtractor(false), join(extractorDir, 'phi.onnx'));
  await writeFile(
    join(extractorDir, 'fiberscope.json'),
    JSON.stringify({ version: 1, kind: 'extractor', name: 'test-layout', model: { file: 'phi.onnx', input: 'pixels', output: 'features' }, preprocess: [], loss: 'l2', metric: 'squared_l2' }),
  );
  for (const d of loadDigits({ labels: [1, 3, 7], perLabel: 1, offset: 500 })) {
    await writeFile(join(dataset, `d${d.label}.png`), encodePng(d.pixels, [1, 28, 28], [-1, 1]));
  }
  await writeFile(join(dataset, 'corrupt.png'), Buffer.from('not a png at all'));
  await writeFile(join(dataset, 'small.png'), encodePng(new Float32Array(14 * 14), [1, 14, 14], [-1, 1]));
  return { priorDir, extractorDir, dataset };
}

const fx = await fixture();
const loadPair = cachedPairLoader();

function spec(over: Partial<NewRun> = {}): NewRun {
  return {
    dataset: fx.dataset,
    prior: fx.priorDir,
    extractor: fx.extractorDir,
    samplesPerImage: 2,
    sampler: resolveSamplerOptions({ preset: 'imagenet-dinov2', steps: 8, innerSteps: 1, lr: 0.03, update: { kind: 'ddim', variance: 'small', eta: 0 }, seed: 42 }),
    preset: 'imagenet-dinov2',
    probes: ['hflip', 'vflip', 'rot180'],
    batchImages: 2,
    shardSize: 2,
    resizeQueries: false,
    provider: 'cpu',
    ...over,
  };
}

async function rowsOf(store: FileStore, runId: string): Promise<SampleRow[]> {
  const layout = runLayout(runId);
  const manifest = JSON.parse(new TextDecoder().decode(await store.get(layout.manifest))) as { shards: { shard: string }[] };
  const rows: SampleRow[] = [];
  for (const { shard } of manifest.shards) rows.push(...readSampleRows(await store.get(layout.shardTable(shard))));
  return rows.sort((a, b) => a.image_id.localeCompare(b.image_id) || a.sample_index - b.sample_index);
}

/** What must not depend on batching, sharding or resuming: the samples and their measurements. */
const essence = (rows: SampleRow[]) => rows.map((r) => [r.image_id, r.sample_index, r.status, r.cost, r.fiber_metric, r.pixel_distance, r.nearest_probe, r.error]);

test('a local audit writes the whole run folder, with error rows for bad images and the rest sampled', async () => {
  const store = new FileStore(join(root, 'store-a'));
  const result = await runLocalAudit(spec({ runId: 'full' }), { store, loadPair });
  const layout = runLayout('full');
  const manifest = JSON.parse(await readFile(join(root, 'store-a', layout.manifest), 'utf8')) as { prior: { fingerprints: Record<string, string> }; shards: unknown[] };
  const onnx = await readFile(join(fx.priorDir, 'gaussian_mixture.onnx'));
  assert.ok(Object.values(manifest.prior.fingerprints).includes(createHash('sha256').update(onnx).digest('hex')), 'manifest fingerprints the prior ONNX');
  assert.equal(manifest.shards.length, 3, '5 images in shards of 2');

  const rows = await rowsOf(store, 'full');
  assert.equal(rows.length, 10, '5 images × 2 samples');
  const bad = rows.filter((r) => r.status === 'error');
  assert.deepEqual([...new Set(bad.map((r) => r.image_id))].sort(), ['corrupt', 'small']);
  assert.ok(bad.some((r) => /small/.test(r.error!) && /expected 28×28 pixels, got 14×14/.test(r.error!)), bad.map((r) => r.error).join('; '));
  assert.ok(bad.some((r) => /corrupt/.test(r.error!)));
  const ok = rows.filter((r) => r.status === 'ok');
  assert.equal(ok.length, 6);
  for (const r of ok) {
    assert.ok(Number.isFinite(r.cost) && Number.isFinite(r.fiber_metric) && r.pixel_distance! > 0);
    assert.ok(['none', 'hflip', 'vflip', 'rot180'].includes(r.nearest_probe!));
    assert.equal(r.seed, '42');
    assert.equal(r.variant, 'ndtm');
    assert.equal(r.prior_id, 'test-mixture');
    assert.ok(await store.exists(r.image_key!), `${r.image_key} written`);
  }
  const summary = readImageRows(await store.get(layout.summary));
  assert.equal(summary.length, 5);
  for (const s of summary.filter((s) => s.status === 'ok')) {
    assert.ok(s.nn_baseline! > 0 && s.nn_image_id !== s.image_id && s.diversity! > 0);
  }
  assert.equal(result.summary.samples.ok, 6);
  const html = new TextDecoder().decode(await store.get(layout.report));
  for (const id of ['d1', 'd3', 'd7', 'corrupt', 'small']) assert.match(html, new RegExp(`class="image-id">${id}<`));
  assert.deepEqual(await store.list(`${layout.base}/parts/`), [], 'batch parts are removed once the shard table is written');
});

test('samples do not depend on batch size, shard size or resuming', async () => {
  const storeA = new FileStore(join(root, 'store-b'));
  await runLocalAudit(spec({ runId: 'batched', batchImages: 3, shardSize: 5 }), { store: storeA, loadPair });
  const storeB = new FileStore(join(root, 'store-c'));
  const config = await createRun(storeB, spec({ runId: 'resumed', batchImages: 1, shardSize: 2 }));
  // An interrupted run: only the first shard finished before the crash.
  await sampleShard({ store: storeB, loadPair }, { runId: 'resumed', ...config.shards[0]! });
  await runLocalAudit({ resume: 'resumed' }, { store: storeB, loadPair });
  const a = essence(await rowsOf(storeA, 'batched'));
  const b = essence(await rowsOf(storeB, 'resumed'));
  assert.equal(a.length, 10);
  assert.deepEqual(b, a);
  const png = (s: FileStore, id: string) => s.get(`${runLayout(id).base}/images/d3/1.png`);
  assert.deepEqual(await png(storeB, 'resumed'), await png(storeA, 'batched'), 'the same sample image, bit for bit');
});

test('a run id that exists is refused before anything is written', async () => {
  const store = new FileStore(join(root, 'store-d'));
  await createRun(store, spec({ runId: 'taken' }));
  const before = await store.list('');
  await assert.rejects(createRun(store, spec({ runId: 'taken' })), /run 'taken' already exists/);
  assert.deepEqual(await store.list(''), before);
});

test('a sample that comes out NaN becomes an error row and the other samples go on', async () => {
  const store = new FileStore(join(root, 'store-nan'));
  // A real pair with one fault injected: the features of the second sample of the batch come out NaN.
  const poisoned: PairLoader = async (config) => {
    const pair = await loadPair(config);
    const objective = Object.create(pair.objective) as FiberObjective;
    let calls = 0;
    objective.imageFeatures = async (images, batch) => {
      const out = await pair.objective.imageFeatures(images, batch);
      // Call 1 embeds the queries, call 2 the finished samples.
      if (++calls === 2) out.fill(Number.NaN, pair.objective.featureDim, 2 * pair.objective.featureDim);
      return out;
    };
    return { ...pair, objective };
  };
  await runLocalAudit(spec({ runId: 'nan', batchImages: 5, shardSize: 5 }), { store, loadPair: poisoned });
  const rows = await rowsOf(store, 'nan');
  const nan = rows.filter((r) => r.error?.includes('NaN'));
  assert.deepEqual(nan.map((r) => [r.image_id, r.sample_index]), [['d1', 1]]);
  assert.equal(rows.filter((r) => r.status === 'ok').length, 5, 'the other samples of the batch are kept');
  assert.equal(nan[0]!.image_key, null);
});

test('a separate reference set gives the nearest-real-neighbour baseline; unreadable reference images are left out', async () => {
  const reference = join(root, 'reference');
  await mkdir(reference, { recursive: true });
  for (const d of loadDigits({ labels: [1, 3, 7], perLabel: 2, offset: 600 })) {
    await writeFile(join(reference, `r${d.label}-${d.index}.png`), encodePng(d.pixels, [1, 28, 28], [-1, 1]));
  }
  await writeFile(join(reference, 'broken.png'), Buffer.from('nope'));
  const store = new FileStore(join(root, 'store-ref'));
  await runLocalAudit(spec({ runId: 'ref', reference }), { store, loadPair });
  const summary = readImageRows(await store.get(runLayout('ref').summary));
  const ok = summary.filter((s) => s.status === 'ok');
  assert.equal(ok.length, 3);
  for (const s of ok) {
    assert.match(s.nn_image_id!, /^r[137]-60[01]$/, 'the neighbour comes from the reference set');
    assert.ok(s.nn_baseline! > 0);
  }
  // The same query's baseline against the run's own images differs: another set, another neighbour.
  const own = readImageRows(await new FileStore(join(root, 'store-a')).get(runLayout('full').summary));
  assert.notDeepEqual(ok.map((s) => s.nn_image_id), own.filter((s) => s.status === 'ok').map((s) => s.nn_image_id));
  await assert.rejects(createRun(store, spec({ runId: 'ref-missing', reference: join(root, 'no-such-folder') })), /reference: expected a folder/);
});
