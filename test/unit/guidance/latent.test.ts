import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OnnxFiberObjective } from '../../../engine/guidance/compose.ts';
import { resolveSamplerOptions } from '../../../engine/guidance/options.ts';
import { sampleFiber } from '../../../engine/guidance/sampler.ts';
import { gaussianPrior, linearExtractor } from '../../../engine/priors/analytic.ts';
import type { PriorManifest } from '../../../engine/priors/bundle.ts';
import { DataType, GraphBuilder, emptyModel } from '../../../engine/onnx/index.ts';
import type { Model } from '../../../engine/onnx/index.ts';
import { lcg } from '../../helpers/diagonal-gaussian.ts';

const r = lcg(31);
const L = 4; // latent [4, 1, 1]
const IMG: [number, number, number] = [1, 2, 4];
const P = 8;
const W = Float64Array.from({ length: P * L }, () => r()); // decoder image = W·z, row-major [P × L]
const E = Float64Array.from({ length: L * P }, () => r()); // encoder z = E·image
const A = Float64Array.from({ length: 3 * P }, () => r());
const scale = 0.5;

/** in [N, ...inShape] → MatMul with Mᵀ → [N, ...outShape]. */
function linearModel(
  M: Float64Array,
  rows: number,
  cols: number,
  inShape: number[],
  outShape: number[],
  names: [string, string],
): Model {
  const m = emptyModel(
    names[1],
    17,
    [{ name: names[0], dataType: DataType.float32, shape: ['N', ...inShape] }],
    [{ name: names[1], dataType: DataType.float32, shape: ['N', ...outShape] }],
  );
  const b = GraphBuilder.forModel(m);
  const Mt = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) Mt[j * rows + i] = M[i * cols + j]!;
  const flat = b.op('Reshape', [names[0], b.int64s([-1, cols])]);
  const out = b.op('MatMul', [flat, b.constant(DataType.float32, [cols, rows], Mt, 'Mt')]);
  b.op('Reshape', [out, b.int64s([-1, ...outShape])], undefined, names[1]);
  return m;
}

const apply = (M: Float64Array, rows: number, cols: number, v: ArrayLike<number>) =>
  Array.from({ length: rows }, (_, i) =>
    Array.from({ length: cols }, (_, j) => M[i * cols + j]! * v[j]!).reduce((a, b) => a + b),
  );

async function latentObjective() {
  const g = gaussianPrior({ shape: [L, 1, 1], mean: new Float64Array(L), variances: new Float64Array(L).fill(1) });
  const manifest: PriorManifest = {
    ...g.manifest,
    image: { channels: IMG[0], height: IMG[1], width: IMG[2], range: [-1, 1], resize: false },
    latent: { decoder: { file: 'dec.onnx' }, encoder: { file: 'enc.onnx' }, scale, shape: [L, 1, 1] },
    clip: null,
  };
  return OnnxFiberObjective.create(
    {
      manifest,
      denoiser: g.model,
      decoder: linearModel(W, P, L, [L, 1, 1], IMG, ['z', 'image']),
      encoder: linearModel(E, L, P, IMG, [L, 1, 1], ['image', 'z']),
    },
    linearExtractor(A, 3, IMG),
  );
}

test('latent prior: decode(z/scale), encode·scale, φ sees the decoded image, ∂cost/∂u through the decoder', async () => {
  const obj = await latentObjective();
  assert.deepEqual(obj.prior.stateShape, [L, 1, 1]);
  const z = Float32Array.from({ length: L }, () => r());
  const img = await obj.decode(z, 1);
  apply(W, P, L, z).forEach((v, i) => assert.ok(Math.abs(img[i]! - v / scale) < 1e-5));
  const enc = await obj.encode(img, 1);
  apply(E, L, P, img).forEach((v, i) => assert.ok(Math.abs(enc[i]! - v * scale) < 1e-5));
  const h = await obj.features(z, 1, null);
  apply(A, 3, P, img).forEach((v, i) => assert.ok(Math.abs(h[i]! - v) < 1e-4));
  // Directional derivative of the cost along a random direction, by central differences of the graph's own cost.
  const args = {
    x: z,
    u: Float32Array.from({ length: L }, () => r()),
    gamma: 0.8,
    t: 400,
    y: Float32Array.from([0.3, -0.2, 0.5]),
    batch: 1,
    weight: 1,
    tau: 0,
    epsRef: null,
    clip: null,
  };
  const base = await obj.costGrad(args);
  const dir = Float32Array.from({ length: L }, () => r());
  const step = 1e-2;
  const at = async (sgn: number) =>
    (await obj.costGrad({ ...args, u: args.u.map((v, j) => v + sgn * step * dir[j]!) })).cost[0]!;
  const fd = ((await at(1)) - (await at(-1))) / (2 * step);
  const analytic = base.gradU.reduce((s, g, j) => s + g * dir[j]!, 0);
  assert.ok(Math.abs(fd - analytic) < 2e-3 * Math.max(1, Math.abs(fd)), `${analytic} vs ${fd}`);
});

test('latent prior sampling: per-timestep target through the encoder, outputs decoded images', async () => {
  const obj = await latentObjective();
  const opts = resolveSamplerOptions({ preset: 'cue-conflict', steps: 25, lr: 0.05, seed: 3n }, obj.prior);
  const q = { imageId: 'q', image: Float32Array.from({ length: P }, () => r()), sampleIndices: [0, 1] };
  const res = await sampleFiber(obj, [q], opts);
  assert.equal(res.samples.length, 2 * P);
  assert.ok(res.samples.every(Number.isFinite));
});
