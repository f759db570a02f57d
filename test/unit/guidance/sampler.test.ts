import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sampleFiber } from '../../../engine/guidance/sampler.ts';
import type { SamplerOptionsInput } from '../../../engine/guidance/options.ts';
import { resolveSamplerOptions } from '../../../engine/guidance/options.ts';
import { gaussian } from '../../../engine/random/philox.ts';
import { tweedie } from '../../../engine/guidance/updates.ts';
import { gammaAt } from '../../../engine/guidance/gamma.ts';
import { DiagonalGaussianObjective, lcg } from '../../helpers/diagonal-gaussian.ts';

const dim = 16;
const F = 4;
function setup(clip: [number, number] | null = null) {
  const r = lcg(3);
  return new DiagonalGaussianObjective({
    mean: Float64Array.from({ length: dim }, () => r() * 0.5),
    std: Float64Array.from({ length: dim }, () => 0.5 + Math.abs(r())),
    A: Float64Array.from({ length: F * dim }, () => r()),
    featureDim: F,
    clip,
  });
}
const image = (seed: number) => {
  const r = lcg(seed);
  return Float32Array.from({ length: dim }, () => r() * 1.5);
};
const small: SamplerOptionsInput = {
  preset: 'cue-conflict',
  steps: 20,
  innerSteps: 3,
  lr: 0.05,
  seed: 11n,
  update: { kind: 'ancestral', variance: 'small', respacing: 'exact' },
};

test('NFE counts as METHOD §4 counts them (DINOv2 preset: 200 steps, N = 5, 40 unguided steps)', async () => {
  const obj = setup();
  const opts = resolveSamplerOptions({ preset: 'cue-conflict' }, obj.prior);
  const res = await sampleFiber(obj, [{ imageId: 'a', image: image(1), sampleIndices: [0] }], opts);
  const guided = 160;
  assert.deepEqual(res.nfe, {
    denoiserForward: 200 + guided + guided * 5, // final forward every step, per-t target and inner forwards on guided steps
    denoiserBackward: guided * 5,
    extractorForward: 1 + guided + guided * 5 + 1, // query, per-t targets, inner, final sample
    extractorBackward: guided * 5,
  });
  const withTau = await sampleFiber(obj, [{ imageId: 'a', image: image(1), sampleIndices: [0] }], {
    ...opts,
    tau: 1e-3,
  });
  assert.equal(withTau.nfe.denoiserForward, res.nfe.denoiserForward + guided); // the detached ε(x, t) only when τ > 0
  assert.equal(res.method.update, 'ancestral/small/as-released');
  assert.equal(res.method.variant, 'ndtm');
});

test('same seed: bit-identical; results do not depend on batch size or order', async () => {
  const obj = setup([-2, 2]);
  const opts = resolveSamplerOptions(small, obj.prior);
  const queries = [
    { imageId: 'q1', image: image(1), sampleIndices: [0, 1, 2, 3] },
    { imageId: 'q2', image: image(2), sampleIndices: [0, 1] },
  ];
  const all = await sampleFiber(obj, queries, opts);
  const again = await sampleFiber(obj, queries, opts);
  assert.deepEqual(again.samples, all.samples);
  const D = dim;
  for (const [b, item] of all.items.entries()) {
    const q = queries.find((x) => x.imageId === item.imageId)!;
    const alone = await sampleFiber(obj, [{ ...q, sampleIndices: [item.sampleIndex] }], opts);
    assert.deepEqual(alone.samples, all.samples.subarray(b * D, (b + 1) * D), `${item.imageId}/${item.sampleIndex}`);
  }
  const reversed = await sampleFiber(obj, [...queries].reverse(), opts);
  assert.deepEqual(reversed.samples.subarray(0, 2 * D), all.samples.subarray(4 * D, 6 * D));
  const otherSeed = await sampleFiber(obj, queries, { ...opts, seed: 12n });
  assert.notDeepEqual(otherSeed.samples, all.samples);
  // Samples of one query differ from each other.
  assert.notDeepEqual(all.samples.subarray(0, D), all.samples.subarray(D, 2 * D));
});

test('per-timestep target: φ(clamp(tweedie(√ā·x₀ + √(1−ā)·ξ))) with ξ from the target stream; static target is φ(x₀)', async () => {
  const obj = setup([-2, 2]);
  const opts = resolveSamplerOptions({ ...small, steps: 10 }, obj.prior);
  const q = image(5);
  await sampleFiber(obj, [{ imageId: 'qq', image: q, sampleIndices: [2] }], opts);
  const s = obj.prior.schedule!;
  const calls = obj.calls.filter((c) => c.method === 'costGrad');
  const firstPerStep = new Map<number, Float32Array>();
  for (const c of calls) if (!firstPerStep.has(c.t!)) firstPerStep.set(c.t!, c.y!);
  assert.ok(firstPerStep.size > 0);
  for (const [t, y] of firstPerStep) {
    const i = opts.steps - 1 - t / 100;
    const xi = new Float32Array(dim);
    gaussian({ seed: 11n, imageId: 'qq', sampleIndex: 2 }, 'target', i, xi);
    const a = s.alphaBar(t);
    const xq = q.map((v, j) => Math.sqrt(a) * v + Math.sqrt(1 - a) * xi[j]!);
    const eps = (await obj.predict(xq, t, 1)).out;
    const x0 = tweedie(xq, eps, a).map((v) => Math.min(2, Math.max(-2, v)));
    const expected = await obj.features(x0, 1);
    assert.deepEqual(y, expected, `target at t=${t}`);
  }
  obj.calls.length = 0;
  await sampleFiber(obj, [{ imageId: 'qq', image: q, sampleIndices: [2] }], { ...opts, variant: 'static-target' });
  const phiQ = await obj.imageFeatures(q, 1);
  for (const c of obj.calls.filter((c) => c.method === 'costGrad')) assert.deepEqual(c.y, phiQ);
});

test('guidance pulls samples into the fiber; unguided ones stay far', async () => {
  const obj = setup();
  const q = [{ imageId: 'q', image: image(9), sampleIndices: [0, 1, 2, 3, 4, 5, 6, 7] }];
  const base = resolveSamplerOptions(
    { ...small, steps: 50, innerSteps: 5, gamma: [{ start: 10, end: 10, tStart: 1000, tEnd: 0 }] },
    obj.prior,
  );
  const mean = (a: Float64Array) => a.reduce((x, y) => x + y, 0) / a.length;
  const guided = mean((await sampleFiber(obj, q, base)).cost);
  const unguided = await sampleFiber(obj, q, { ...base, variant: 'unguided' });
  assert.ok(guided < 0.1 * mean(unguided.cost), `guided ${guided} vs unguided ${mean(unguided.cost)}`);
  assert.equal(unguided.nfe.denoiserBackward, 0);
  assert.equal(unguided.nfe.denoiserForward, 50);
  const nj = await sampleFiber(obj, q, { ...base, variant: 'no-denoiser-jacobian' });
  assert.equal(nj.nfe.denoiserBackward, 0);
  assert.ok(mean(nj.cost) < 0.2 * mean(unguided.cost));
});

test('no-denoiser-jacobian: one Adam step moves u against ∂cost/∂x̂₀ (x′ = x − γ·lr·sign)', async () => {
  const obj = setup();
  const opts = resolveSamplerOptions(
    { ...small, steps: 4, innerSteps: 1, variant: 'no-denoiser-jacobian', lr: 0.1 },
    obj.prior,
  );
  const q = image(4);
  await sampleFiber(obj, [{ imageId: 'z', image: q, sampleIndices: [0] }], opts);
  // First step: t = 750, γ = 3, lr = 0.1. Calls: target predict, predict at x′ = x, costGradX0, final predict at x + γu.
  const predicts = obj.calls.filter((c) => c.method === 'predict' && c.t === 750);
  assert.equal(predicts.length, 3);
  const x = predicts[1]!.x!;
  const xT = new Float32Array(dim);
  gaussian({ seed: 11n, imageId: 'z', sampleIndex: 0 }, 'x_T', 0, xT);
  assert.deepEqual(x, xT);
  const x0 = obj.calls.find((c) => c.method === 'costGradX0')!.x!;
  const { gradX0 } = await obj.costGradX0(x0, obj.calls.find((c) => c.method === 'costGradX0')!.y!, 1, 1);
  const xFinal = predicts[2]!.x!;
  const g = gammaAt(opts.gamma, 750);
  assert.equal(g, 3);
  for (let j = 0; j < dim; j++) {
    const expected = x[j]! - g * 0.1 * Math.sign(gradX0[j]!);
    assert.ok(Math.abs(xFinal[j]! - expected) < 1e-5, `coordinate ${j}: ${xFinal[j]} vs ${expected}`);
  }
});

test('DDIM state output, flow prior refusals and latent checks are explicit', async () => {
  const obj = setup();
  const ddim = resolveSamplerOptions({ preset: 'chexpert-classifier', steps: 10, seed: 1n }, obj.prior);
  const res = await sampleFiber(obj, [{ imageId: 'd', image: image(2), sampleIndices: [0] }], ddim);
  assert.equal(res.method.update, 'ddim/large/eta=0.5');
  assert.equal(res.method.output, 'state');
  assert.ok(res.samples.every(Number.isFinite));
  assert.deepEqual(res.finite, [true]);
  await assert.rejects(
    sampleFiber(obj, [{ imageId: 'd', image: image(2), sampleIndices: [0] }], { ...ddim, update: { kind: 'euler' } }),
    /update.kind/,
  );
  await assert.rejects(
    sampleFiber(obj, [{ imageId: 'd', image: new Float32Array(3), sampleIndices: [0] }], ddim),
    /expected 16 values/,
  );
});

test('a sample that turns NaN is flagged, the others are untouched', async () => {
  const obj = setup();
  const opts = resolveSamplerOptions({ ...small, variant: 'unguided' }, obj.prior);
  const queries = [{ imageId: 'q', image: image(1), sampleIndices: [0, 1] }];
  const clean = await sampleFiber(obj, queries, opts);
  const predict = obj.predict.bind(obj);
  obj.predict = async (x, t, batch) => {
    const p = await predict(x, t, batch);
    if (t === 0) p.out.fill(Number.NaN, dim, 2 * dim); // the second sample's last step
    return p;
  };
  const broken = await sampleFiber(obj, queries, opts);
  assert.deepEqual(broken.finite, [true, false]);
  assert.deepEqual(broken.samples.subarray(0, dim), clean.samples.subarray(0, dim));
});
