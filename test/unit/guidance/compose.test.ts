import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OnnxFiberObjective } from '../../../engine/guidance/compose.ts';
import type { ExtractorManifest } from '../../../engine/priors/bundle.ts';
import { gaussianPrior, linearExtractor } from '../../../engine/priors/analytic.ts';
import type { FiberLossName } from '../../../engine/guidance/losses.ts';
import { sampleFiber } from '../../../engine/guidance/sampler.ts';
import { resolveSamplerOptions } from '../../../engine/guidance/options.ts';
import { InputError } from '../../../engine/errors.ts';
import { DataType, GraphBuilder } from '../../../engine/onnx/index.ts';
import { DiagonalGaussianObjective, lcg } from '../../helpers/diagonal-gaussian.ts';

const linearExtractorModel = (M: Float64Array, f: number, s: readonly number[]) => linearExtractor(M, f, s).model;

const D = 16;
const F = 5;
const shape: [number, number, number] = [1, 4, 4];
const r = lcg(77);
const mean = Float64Array.from({ length: D }, () => r());
const std = Float64Array.from({ length: D }, () => 0.5 + Math.abs(r()));
const A = Float64Array.from({ length: F * D }, () => r());

function extractor(loss: FiberLossName, preprocess: ExtractorManifest['preprocess'] = []) {
  const manifest: ExtractorManifest = {
    version: 1,
    kind: 'extractor',
    model: { file: 'linear.onnx' },
    preprocess,
    loss,
    metric: 'squared_l2',
  };
  return { manifest, model: linearExtractorModel(A, F, shape) };
}

async function pair(loss: FiberLossName) {
  const prior = gaussianPrior({ shape, mean, variances: std.map((s) => s * s), clip: [-1.5, 1.5] });
  const onnx = await OnnxFiberObjective.create({ manifest: prior.manifest, denoiser: prior.model }, extractor(loss));
  const ref = new DiagonalGaussianObjective({ mean, std, A, featureDim: F, clip: [-1.5, 1.5], loss });
  return { onnx, ref };
}

function assertClose(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string) {
  assert.equal(a.length, b.length, `${what}: length`);
  for (let j = 0; j < a.length; j++) {
    assert.ok(Math.abs(a[j]! - b[j]!) <= tol * Math.max(1, Math.abs(b[j]!)), `${what}[${j}]: ${a[j]} vs ${b[j]}`);
  }
}

const B = 3;
const clip = [-1.5, 1.5] as const;
const x = Float32Array.from({ length: B * D }, () => 2 * r());
const u = Float32Array.from({ length: B * D }, () => r());
const y = Float32Array.from({ length: B * F }, () => r());

test('composed graph = hand-derived reference: prediction, features, cost and ∂cost/∂u through denoiser and φ', async () => {
  for (const loss of ['l2', 'l1', 'cross_entropy'] as const) {
    const { onnx, ref } = await pair(loss);
    assert.equal(onnx.featureDim, F);
    for (const t of [999, 500, 20]) {
      assertClose((await onnx.predict(x, t, B)).out, (await ref.predict(x, t, B)).out, 1e-4, `${loss} ε t=${t}`);
      const args = { x, u, gamma: 0.7, t, y, batch: B, weight: 2, tau: 0, epsRef: null, clip };
      const got = await onnx.costGrad(args);
      const want = await ref.costGrad(args);
      assertClose(got.cost, want.cost, 1e-4, `${loss} cost t=${t}`);
      assertClose(got.x0hat, want.x0hat, 1e-4, `${loss} x̂₀ t=${t}`);
      assertClose(got.gradU, want.gradU, 2e-4, `${loss} ∂/∂u t=${t}`);
      const gx = await onnx.costGradX0(
        got.x0hat.map((v) => v * 1.3),
        y,
        B,
        2,
        clip,
      );
      const wx = await ref.costGradX0(
        got.x0hat.map((v) => v * 1.3),
        y,
        B,
        2,
        clip,
      );
      assertClose(gx.gradX0, wx.gradX0, 2e-4, `${loss} ∂/∂x̂₀ t=${t}`);
    }
    assertClose(await onnx.features(x, B, clip), await ref.features(x, B, clip), 1e-4, `${loss} features (clamped)`);
    // A clamp range given at run time (an options override) replaces the prior's.
    const narrow = [-0.5, 0.5] as const;
    assertClose(
      await onnx.features(x, B, narrow),
      await ref.features(x, B, narrow),
      1e-4,
      `${loss} features (override)`,
    );
    assertClose(await onnx.features(x, B, null), await ref.features(x, B, null), 1e-4, `${loss} features (no clamp)`);
  }
});

test('the τ term: τ|ε(x′) − ε_ref|² and its gradient', async () => {
  const { onnx, ref } = await pair('l2');
  const epsRef = Float32Array.from({ length: B * D }, () => r());
  const args = { x, u, gamma: 1.1, t: 300, y, batch: B, weight: 1, tau: 0.05, epsRef, clip };
  const got = await onnx.costGrad(args);
  const want = await ref.costGrad(args);
  assertClose(got.cost, want.cost, 1e-4, 'cost');
  assertClose(got.gradU, want.gradU, 2e-4, 'gradient');
});

test('preprocessing runs as declared ONNX ops (rescale, crop, normalize, repeat, grayscale)', async () => {
  const prior = gaussianPrior({
    shape: [3, 6, 6],
    mean: new Float64Array(108),
    variances: new Float64Array(108).fill(1),
  });
  const steps: ExtractorManifest['preprocess'] = [
    { op: 'rescale', from: [-1, 1], to: [0, 1] },
    { op: 'grayscale' },
    { op: 'center_crop', size: [4, 4] },
    { op: 'repeat_channels', channels: 2 },
    { op: 'normalize', mean: [0.5, 0.25], std: [0.5, 2] },
  ];
  const Aid = new Float64Array(32 * 32);
  for (let i = 0; i < 32; i++) Aid[i * 32 + i] = 1;
  const obj = await OnnxFiberObjective.create(
    { manifest: prior.manifest, denoiser: prior.model },
    { manifest: { ...extractor('l2').manifest, preprocess: steps }, model: linearExtractorModel(Aid, 32, [2, 4, 4]) },
  );
  const img = Float32Array.from({ length: 108 }, () => r() * 2);
  const got = await obj.imageFeatures(img, 1);
  for (const [c, yy, xx] of [
    [0, 0, 0],
    [1, 2, 3],
    [0, 3, 1],
  ] as const) {
    const px = (ch: number) => (img[ch * 36 + (yy + 1) * 6 + (xx + 1)]! + 1) / 2;
    const gray = 0.299 * px(0) + 0.587 * px(1) + 0.114 * px(2);
    const want = (gray - [0.5, 0.25][c]!) / [0.5, 2][c]!;
    assert.ok(
      Math.abs(got[c * 16 + yy * 4 + xx]! - want) < 1e-5,
      `(${c},${yy},${xx}): ${got[c * 16 + yy * 4 + xx]} vs ${want}`,
    );
  }
});

test('an operator without a gradient rule is refused naming the op; unknown names are InputErrors', async () => {
  const prior = gaussianPrior({ shape, mean, variances: std.map((s) => s * s) });
  // φ ends in CumSum, an op with no gradient rule: the forward runs, the gradient is refused naming it.
  const cumulative = linearExtractorModel(A, F, shape);
  const g = GraphBuilder.forModel(cumulative);
  cumulative.graph.nodes.find((n) => n.outputs.includes('features'))!.outputs = ['projected'];
  g.op('CumSum', ['projected', g.int64s([1], 'cumsum_axis')], undefined, 'features');
  const refused = await OnnxFiberObjective.create(
    { manifest: prior.manifest, denoiser: prior.model },
    { manifest: extractor('l2').manifest, model: cumulative },
  );
  assert.equal((await refused.imageFeatures(x, B)).length, B * F); // the forward runs
  await assert.rejects(
    refused.costGrad({ x, u, gamma: 1, t: 10, y, batch: B, weight: 1, tau: 0, epsRef: null, clip }),
    /CumSum/,
  );
  await assert.rejects(
    OnnxFiberObjective.create(
      {
        manifest: { ...prior.manifest, denoiser: { ...prior.manifest.denoiser, output: 'noise' } },
        denoiser: prior.model,
      },
      extractor('l2'),
    ),
    (e: unknown) => e instanceof InputError && e.input === 'denoiser.output' && /outputs: eps/.test(e.message),
  );
});

test('a denoiser the gradient transform refuses still predicts (its forward sessions keep the model as it is)', async () => {
  const prior = gaussianPrior({ shape, mean, variances: std.map((s) => s * s) });
  // ε through a CumSum over the channel axis (one channel: the same values), an op with no gradient rule.
  const refusedModel = gaussianPrior({ shape, mean, variances: std.map((s) => s * s) }).model;
  const g = GraphBuilder.forModel(refusedModel);
  refusedModel.graph.nodes.find((n) => n.outputs.includes('eps'))!.outputs = ['eps_raw'];
  g.op('CumSum', ['eps_raw', g.int64s([1], 'cumsum_axis')], undefined, 'eps');
  const plain = await OnnxFiberObjective.create({ manifest: prior.manifest, denoiser: prior.model }, extractor('l2'));
  const refused = await OnnxFiberObjective.create(
    { manifest: prior.manifest, denoiser: refusedModel },
    extractor('l2'),
  );
  const [want, got] = [await plain.predict(x, 10, B), await refused.predict(x, 10, B)];
  assertClose(got.out, want.out, 1e-6, 'prediction');
  await assert.rejects(
    refused.costGrad({ x, u, gamma: 1, t: 10, y, batch: B, weight: 1, tau: 0, epsRef: null, clip }),
    /CumSum/,
  );
});

test('ONNX sampling: same seed bit-identical across runs and batch sizes 1 vs K; matches the TypeScript reference', async () => {
  const { onnx, ref } = await pair('l2');
  const opts = resolveSamplerOptions(
    {
      preset: 'cue-conflict',
      steps: 12,
      innerSteps: 2,
      lr: 0.05,
      seed: 99n,
      update: { kind: 'ancestral', variance: 'small', respacing: 'exact' },
    },
    onnx.prior,
  );
  const q = { imageId: 'img', image: Float32Array.from({ length: D }, () => r()), sampleIndices: [0, 1, 2, 3] };
  const batch = await sampleFiber(onnx, [q], opts);
  const again = await sampleFiber(onnx, [q], opts);
  assert.deepEqual(again.samples, batch.samples);
  for (const k of [0, 3]) {
    const single = await sampleFiber(onnx, [{ ...q, sampleIndices: [k] }], opts);
    assert.deepEqual(
      single.samples,
      batch.samples.subarray(k * D, (k + 1) * D),
      `sample ${k} alone vs in a batch of 4`,
    );
  }
  const reference = await sampleFiber(ref, [q], opts);
  assertClose(batch.samples, reference.samples, 2e-3, 'ONNX vs TypeScript samples');
});

test('variance channels: the second half of the output reaches learned_range; the DINOv2 preset runs end to end', async () => {
  const prior = gaussianPrior({ shape, mean, variances: std.map((s) => s * s), clip: [-1.5, 1.5] });
  const m = prior.model;
  const b = GraphBuilder.forModel(m);
  const v = b.op('Add', [b.op('Mul', ['eps', b.scalar(0, DataType.float32)]), b.scalar(0.2, DataType.float32)]);
  b.op('Concat', ['eps', v], { axis: 1 }, 'out');
  m.graph.outputs = [{ name: 'out', dataType: DataType.float32, shape: ['N', 2, 4, 4] }];
  const manifest = {
    ...prior.manifest,
    denoiser: { ...prior.manifest.denoiser, output: 'out', varianceChannels: true },
  };
  const obj = await OnnxFiberObjective.create({ manifest, denoiser: m }, extractor('l2'));
  const p = await obj.predict(x, 300, B);
  assert.ok(p.variance && p.variance.length === B * D && p.variance.every((val) => Math.abs(val - 0.2) < 1e-6));
  const ref = new DiagonalGaussianObjective({ mean, std, A, featureDim: F, clip: [-1.5, 1.5], loss: 'l2' });
  assertClose(p.out, (await ref.predict(x, 300, B)).out, 1e-4, 'ε half');
  const opts = resolveSamplerOptions({ preset: 'imagenet-dinov2', steps: 25, lr: 0.05, seed: 2n }, obj.prior);
  const res = await sampleFiber(obj, [{ imageId: 'v', image: x.subarray(0, D), sampleIndices: [0, 1] }], opts);
  assert.equal(res.method.update, 'ancestral/learned_range/as-released');
  assert.ok(res.samples.every(Number.isFinite));
});

test('v- and x₀-predicting denoisers are converted to ε in the graph (same ε, cost and gradient as the ε model)', async () => {
  const base = gaussianPrior({ shape, mean, variances: std.map((s) => s * s), clip: [-1.5, 1.5] });
  const epsObj = await OnnxFiberObjective.create({ manifest: base.manifest, denoiser: base.model }, extractor('l2'));
  for (const prediction of ['v', 'x0'] as const) {
    const prior = gaussianPrior({ shape, mean, variances: std.map((s) => s * s), clip: [-1.5, 1.5] });
    const m = prior.model;
    const b = GraphBuilder.forModel(m);
    const table = b.constant(
      DataType.float32,
      [1000],
      Array.from({ length: 1000 }, (_, t) => epsObj.prior.schedule!.alphaBar(t)),
    );
    const ab = b.unsqueeze(b.op('Gather', [table, 't']), [1, 2, 3]);
    const sa = b.op('Sqrt', [ab]);
    const so = b.op('Sqrt', [b.op('Sub', [b.scalar(1, DataType.float32), ab])]);
    const x0 = b.op('Div', [b.op('Sub', ['x', b.op('Mul', [so, 'eps'])]), sa]);
    const out = prediction === 'x0' ? x0 : b.op('Sub', [b.op('Mul', [sa, 'eps']), b.op('Mul', [so, x0])]);
    b.op('Identity', [out], undefined, 'out');
    m.graph.outputs = [{ name: 'out', dataType: DataType.float32, shape: ['N', ...shape] }];
    const manifest = { ...prior.manifest, denoiser: { ...prior.manifest.denoiser, output: 'out', prediction } };
    const obj = await OnnxFiberObjective.create({ manifest, denoiser: m }, extractor('l2'));
    for (const t of [700, 100]) {
      assertClose(
        (await obj.predict(x, t, B)).out,
        (await epsObj.predict(x, t, B)).out,
        2e-3,
        `${prediction} ε t=${t}`,
      );
      const args = { x, u, gamma: 0.9, t, y, batch: B, weight: 1, tau: 0, epsRef: null, clip };
      const got = await obj.costGrad(args);
      const want = await epsObj.costGrad(args);
      assertClose(got.cost, want.cost, 1e-3, `${prediction} cost t=${t}`);
      assertClose(got.gradU, want.gradU, 2e-3, `${prediction} ∂/∂u t=${t}`);
    }
  }
});

test('a prior and an extractor of different opsets compose (the lower one upgraded)', async () => {
  const ref = new DiagonalGaussianObjective({ mean, std, A, featureDim: F, clip: [-1.5, 1.5], loss: 'cross_entropy' });
  const args = { x, u, gamma: 0.7, t: 400, y, batch: B, weight: 1, tau: 0, epsRef: null, clip };
  const want = await ref.costGrad(args);
  for (const [priorOpset, extractorOpset] of [
    [17, 13],
    [18, 17],
  ] as const) {
    const prior = gaussianPrior({ shape, mean, variances: std.map((s) => s * s), opset: priorOpset });
    const ext = { ...extractor('cross_entropy'), model: linearExtractor(A, F, shape, extractorOpset).model };
    const obj = await OnnxFiberObjective.create({ manifest: prior.manifest, denoiser: prior.model }, ext);
    const got = await obj.costGrad(args);
    assertClose(got.cost, want.cost, 1e-4, `opsets ${priorOpset}/${extractorOpset} cost`);
    assertClose(got.gradU, want.gradU, 2e-4, `opsets ${priorOpset}/${extractorOpset} gradient`);
    await assert.rejects(
      (
        await OnnxFiberObjective.create({ manifest: prior.manifest, denoiser: prior.model }, ext, { opsets: 'equal' })
      ).costGrad(args),
      /opset/,
    );
  }
});
