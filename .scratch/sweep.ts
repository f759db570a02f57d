import { buildDemo, DEMO } from '../engine/demo/build.ts';
import { runLocalAudit } from '../activities/local-engine.ts';
import { cachedPairLoader } from '../activities/pairs.ts';
import { FileStore } from '../store/objects.ts';
import { resolveSamplerOptions } from '../engine/guidance/options.ts';

const configs = JSON.parse(process.argv[2]!) as Record<string, number>[];
for (const c of configs) {
  const settings = { ...DEMO, queriesPerLabel: c.q ?? 3, features: c.f ?? DEMO.features, pool: c.pool ?? DEMO.pool, componentStd: c.std ?? DEMO.componentStd };
  const dir = `/tmp/sweep/${JSON.stringify(c).replace(/[^a-z0-9.]/gi, '_')}`;
  const demo = await buildDemo(dir, settings);
  const store = new FileStore(`${dir}/runs`);
  const out: string[] = [];
  for (const ex of demo.extractors) {
    const t0 = Date.now();
    const sampler = resolveSamplerOptions({ preset: 'imagenet-dinov2', steps: c.steps ?? 50, innerSteps: c.inner ?? 3, lr: c.lr ?? 0.03, update: { kind: 'ddim', variance: 'small', eta: 0 }, seed: c.seed ?? 0 });
    const res = await runLocalAudit({ dataset: demo.dataset, prior: demo.prior, extractor: ex.path, samplesPerImage: c.k ?? 4, sampler, preset: null, probes: ['hflip', 'vflip', 'rot90', 'rot180', 'rot270'], batchImages: 30, shardSize: 30, resizeQueries: false, provider: 'cpu' }, { store, loadPair: cachedPairLoader() });
    const h = res.summary.probes.find((p) => p.probe === 'hflip')!;
    out.push(`${ex.name.slice(7, 14)} h=${h.sampleRate.toFixed(2)}/${h.imageRate.toFixed(2)} fm=${res.summary.fiberMetric.median!.toFixed(1)} nn=${res.summary.nnBaseline.median!.toFixed(1)} ${((Date.now() - t0) / 1000).toFixed(0)}s`);
  }
  console.log(JSON.stringify(c), out.join(' | '));
}
