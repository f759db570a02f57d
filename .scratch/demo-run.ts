import { buildDemo } from '/work/main/engine/demo/build.ts';
import { runLocalAudit } from '/work/main/activities/local-engine.ts';
import { cachedPairLoader } from '/work/main/activities/pairs.ts';
import { FileStore } from '/work/main/store/objects.ts';
import { resolveSamplerOptions } from '/work/main/engine/guidance/options.ts';
import { PROBE_NAMES } from '/work/main/engine/metrics/probes.ts';

const t0 = Date.now();
const demo = await buildDemo('/tmp/demo/bundles');
console.log('built', (Date.now() - t0) / 1000);
const store = new FileStore('/tmp/demo/store');
const loadPair = cachedPairLoader();
const steps = Number(process.env.STEPS ?? 50), inner = Number(process.env.INNER ?? 3);
const gamma = JSON.parse(process.env.GAMMA ?? 'null');
for (const ex of demo.extractors) {
  const t1 = Date.now();
  const sampler = resolveSamplerOptions({ preset: 'imagenet-dinov2', steps, innerSteps: inner, update: { kind: 'ddim', variance: 'small', eta: 0 }, seed: 1, ...(gamma ? { gamma } : {}), ...(process.env.LR ? { lr: Number(process.env.LR) } : {}) });
  const res = await runLocalAudit({ dataset: demo.dataset, prior: demo.prior, extractor: ex.path, samplesPerImage: 4, sampler, preset: 'imagenet-dinov2', probes: ['hflip','vflip','rot90','rot180','rot270'], batchImages: 20, shardSize: 20, resizeQueries: false, provider: 'cpu' }, { store, loadPair });
  const s = res.summary;
  console.log(ex.name, ((Date.now() - t1) / 1000).toFixed(1) + 's', 'fiber median', s.fiberMetric.median, 'nn', s.nnBaseline.median, 'px', s.pixelDistance.median);
  console.log('  probes', s.probes.slice(0, 5).map((p) => `${p.probe}:${p.sampleRate.toFixed(2)}/${p.imageRate.toFixed(2)}`).join(' '));
  console.log('  report', store.location, res.reportKey);
}
