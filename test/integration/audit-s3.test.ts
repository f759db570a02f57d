import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLocalAudit } from '../../activities/local-engine.ts';
import { cachedPairLoader } from '../../activities/pairs.ts';
import { buildDemo } from '../../engine/demo/build.ts';
import { readImageRows } from '../../store/image-tables.ts';
import { runLayout } from '../../store/layout.ts';
import { readSampleRows } from '../../store/tables.ts';
import { s3Store, uniqueName, uploadFolder, useServiceEnvironment } from './services.ts';
import { quickDemoSampler } from '../fixtures/demo-sampler.ts';

const bucket = useServiceEnvironment();
process.env.FIBERSCOPE_CACHE_DIR = await mkdtemp(join(tmpdir(), 'fiberscope-cache-'));

const prefix = uniqueName('audit-s3');
const store = await s3Store(prefix);
after(async () => {
  for (const key of await store.list('')) await store.delete(key);
});

const upload = (dir: string, to: string) => uploadFolder(store, dir, to);

test('an audit reads its dataset and bundles from S3 and writes the run folder there', async () => {
  const local = await buildDemo(await mkdtemp(join(tmpdir(), 'fiberscope-demo-')));
  await upload(local.prior, 'bundles/prior');
  await upload(local.extractors[1]!.path, 'bundles/extractor');
  await upload(local.dataset, 'dataset');
  const s3 = (key: string) => `s3://${bucket}/${prefix}/${key}`;
  const result = await runLocalAudit(
    {
      runId: 'on-s3',
      dataset: s3('dataset'),
      prior: s3('bundles/prior'),
      extractor: s3('bundles/extractor'),
      samplesPerImage: 2,
      sampler: quickDemoSampler(3),
      preset: 'imagenet-dinov2',
      probes: ['hflip', 'vflip'],
      batchImages: 4,
      shardSize: 8,
      resizeQueries: false,
      provider: 'cpu',
      limit: 10,
    },
    { store, loadPair: cachedPairLoader() },
  );
  const layout = runLayout('on-s3');
  const manifest = JSON.parse(new TextDecoder().decode(await store.get(layout.manifest))) as { prior: { path: string; fingerprints: Record<string, string> } };
  assert.equal(manifest.prior.path, s3('bundles/prior'), 'the run records the bundle as given, for every worker to resolve');
  assert.match(manifest.prior.fingerprints['gaussian_mixture.onnx']!, /^[0-9a-f]{64}$/);
  const rows = [...readSampleRows(await store.get(layout.shardTable('shard-00000'))), ...readSampleRows(await store.get(layout.shardTable('shard-00001')))];
  assert.equal(rows.length, 20);
  assert.ok(rows.every((r) => r.status === 'ok'));
  for (const r of rows) assert.ok(await store.exists(r.image_key!), r.image_key!);
  assert.equal(readImageRows(await store.get(layout.summary)).length, 10);
  assert.match(new TextDecoder().decode(await store.get(layout.report)), /digits-flip-invariant/);
  assert.equal(result.summary.samples.ok, 20);
});
