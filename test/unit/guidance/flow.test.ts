import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OnnxFiberObjective } from '../../../engine/guidance/compose.ts';
import { resolveSamplerOptions } from '../../../engine/guidance/options.ts';
import { sampleFiber } from '../../../engine/guidance/sampler.ts';
import { gaussianFlowPrior, linearExtractor } from '../../../engine/priors/analytic.ts';
import { lcg } from '../../helpers/diagonal-gaussian.ts';

const D = 8;
const r = lcg(4);
const mean = Float64Array.from({ length: D }, () => r());
const stds = Float64Array.from({ length: D }, () => 0.4 + Math.abs(r()));
const A = Float64Array.from({ length: 2 * D }, () => r());

async function objective() {
  const prior = gaussianFlowPrior({ shape: [1, 1, D], mean, stds });
  return OnnxFiberObjective.create(
    { manifest: prior.manifest, denoiser: prior.model },
    linearExtractor(A, 2, [1, 1, D]),
  );
}

test('flow prior: velocity is E[x₁ − x₀ | x_t] (checked against the Gaussian conditional by hand)', async () => {
  const obj = await objective();
  const x = Float32Array.from({ length: D }, () => 2 * r());
  const t = 0.37;
  const v = (await obj.predict(x, t, 1)).out;
  for (let j = 0; j < D; j++) {
    // Joint Gaussian of (x₁, x₀, x_t): Cov(x₁, x_t) = t s², Cov(x₀, x_t) = 1−t, Var(x_t) = t² s² + (1−t)².
    const s2 = stds[j]! ** 2;
    const varT = t * t * s2 + (1 - t) ** 2;
    const dev = x[j]! - t * mean[j]!;
    const e1 = mean[j]! + ((t * s2) / varT) * dev;
    const e0 = ((1 - t) / varT) * dev;
    assert.ok(Math.abs(v[j]! - (e1 - e0)) < 1e-5, `${j}: ${v[j]} vs ${e1 - e0}`);
  }
});

test('unguided Euler flow sampling reproduces the data distribution; guidance reaches the fiber', async () => {
  const obj = await objective();
  const K = 256;
  const q = {
    imageId: 'q',
    image: Float32Array.from(mean, (m, j) => m + stds[j]!),
    sampleIndices: Array.from({ length: K }, (_, k) => k),
  };
  const opts = resolveSamplerOptions({ steps: 100, seed: 5n, output: 'state' }, obj.prior);
  assert.equal(opts.update.kind, 'euler'); // a flow prior defaults to the flow preset
  const free = await sampleFiber(obj, [q], { ...opts, variant: 'unguided' });
  for (let j = 0; j < D; j++) {
    let m = 0;
    let v = 0;
    for (let k = 0; k < K; k++) m += free.samples[k * D + j]! / K;
    for (let k = 0; k < K; k++) v += (free.samples[k * D + j]! - m) ** 2 / (K - 1);
    assert.ok(Math.abs(m - mean[j]!) < 4 * (stds[j]! / Math.sqrt(K)), `mean ${j}: ${m} vs ${mean[j]}`);
    assert.ok(Math.abs(v / stds[j]! ** 2 - 1) < 0.3, `variance ${j}: ${v} vs ${stds[j]! ** 2}`);
  }
  const guided = await sampleFiber(obj, [q], { ...opts, output: 'x0', lr: 0.05 });
  const avg = (a: Float64Array) => a.reduce((s, x) => s + x, 0) / a.length;
  assert.ok(avg(guided.cost) < 0.2 * avg(free.cost), `guided ${avg(guided.cost)} vs unguided ${avg(free.cost)}`);
  assert.equal(guided.method.update, 'euler');
});
