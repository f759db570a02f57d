import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OnnxFiberObjective } from '../../../engine/guidance/compose.ts';
import { foldRepeatedChannels } from '../../../engine/guidance/fold-channels.ts';
import { gaussianPrior } from '../../../engine/priors/analytic.ts';
import type { ExtractorManifest, PreprocessStep } from '../../../engine/priors/bundle.ts';
import { DataType, GraphBuilder, emptyModel } from '../../../engine/onnx/index.ts';
import type { Attrs, Model } from '../../../engine/onnx/index.ts';
import { openSession, tensor } from '../../../engine/runtime/index.ts';
import { lcg } from '../../helpers/diagonal-gaussian.ts';

const F32 = DataType.float32;
const r = lcg(2029);

/** φ = the first layer's whole output map (borders included) flattened, after a Conv over `channels`. */
function convExtractor(channels: number, size: number, attrs: Attrs, out = 4, k = 3, twoReaders = false): Model {
  const model = emptyModel(
    'conv',
    17,
    [{ name: 'pixels', dataType: F32, shape: ['N', channels, size, size] }],
    [{ name: 'features', dataType: F32, shape: null }],
  );
  const b = GraphBuilder.forModel(model);
  const group = (attrs['group'] as number | undefined) ?? 1;
  const w = b.constant(
    F32,
    [out, channels / group, k, k],
    Array.from({ length: (out * channels * k * k) / group }, () => r()),
    'W',
  );
  const bias = b.constant(
    F32,
    [out],
    Array.from({ length: out }, () => r()),
    'B',
  );
  let y = b.op('Conv', ['pixels', w, bias], attrs);
  if (twoReaders) y = b.op('Add', [y, b.op('ReduceMean', ['pixels'], { keepdims: 1, axes: [1, 2, 3] })]);
  b.op('Reshape', [y, b.int64s([0, -1], 'flat')], undefined, 'features');
  return model;
}

function manifest(preprocess: PreprocessStep[]): ExtractorManifest {
  return { version: 1, kind: 'extractor', model: { file: 'conv.onnx' }, preprocess, loss: 'l2', metric: 'squared_l2' };
}

const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];
const S = 7;
const CROP = 5;
const steps: PreprocessStep[] = [
  { op: 'rescale', from: [-1, 1], to: [0, 1] },
  { op: 'repeat_channels', channels: 3 },
  { op: 'center_crop', size: [CROP, CROP] },
  { op: 'normalize', mean: MEAN, std: STD },
];

/** The declared preprocessing in plain code, then the unfolded extractor in its own session. */
async function reference(model: Model, images: Float32Array, batch: number): Promise<Float32Array> {
  const off = Math.round((S - CROP) / 2);
  const pixels = new Float32Array(batch * 3 * CROP * CROP);
  for (let n = 0; n < batch; n++)
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < CROP; y++)
        for (let x = 0; x < CROP; x++) {
          const v = (images[n * S * S + (y + off) * S + (x + off)]! + 1) / 2;
          pixels[((n * 3 + c) * CROP + y) * CROP + x] = (v - MEAN[c]!) / STD[c]!;
        }
  const s = await openSession(model, {}, 'reference');
  return (await s.run({ pixels: tensor('float32', [batch, 3, CROP, CROP], pixels) }))['features']!.data as Float32Array;
}

const layers: [string, Attrs][] = [
  ['pads 1, stride 2', { pads: [1, 1, 1, 1], strides: [2, 2] }],
  ['uneven pads, dilation 2', { pads: [2, 0, 1, 2], dilations: [2, 2] }],
  ['auto_pad SAME_UPPER, stride 2', { auto_pad: 'SAME_UPPER', strides: [2, 2] }],
  ['auto_pad SAME_LOWER', { auto_pad: 'SAME_LOWER' }],
];

test('a grayscale image repeated into an RGB Conv: one-channel first layer, same features and gradient', async () => {
  const prior = gaussianPrior({
    shape: [1, S, S],
    mean: new Float64Array(S * S),
    variances: new Float64Array(S * S).fill(1),
    clip: [-1, 1],
  });
  for (const [what, attrs] of layers) {
    const model = convExtractor(3, CROP, attrs);
    const folded = foldRepeatedChannels(steps, model, 'pixels', [1, S, S]);
    assert.ok(folded, `${what}: folded`);
    assert.deepEqual(
      folded.steps.map((s) => s.op),
      ['rescale', 'center_crop'],
      `${what}: copies and normalisation leave the preprocessing`,
    );
    const conv = folded.model.graph.nodes.find((n) => n.opType === 'Conv')!;
    assert.deepEqual(
      folded.model.graph.initializers.find((t) => t.name === conv.inputs[1])!.dims,
      [4, 1, 3, 3],
      `${what}: the first layer reads one channel`,
    );
    assert.ok(!model.graph.nodes.some((n) => n.inputs.includes(conv.inputs[1]!)), `${what}: the model is not modified`);

    const obj = await OnnxFiberObjective.create(
      { manifest: prior.manifest, denoiser: prior.model },
      { manifest: manifest(steps), model },
    );
    const batch = 2;
    const images = Float32Array.from({ length: batch * S * S }, () => 0.9 * r());
    const got = await obj.imageFeatures(images, batch);
    const want = await reference(model, images, batch);
    assert.equal(got.length, want.length, `${what}: feature count`);
    for (let j = 0; j < want.length; j++)
      assert.ok(
        Math.abs(got[j]! - want[j]!) <= 1e-5 * Math.max(1, Math.abs(want[j]!)),
        `${what} [${j}]: ${got[j]} vs ${want[j]}`,
      );

    // ∂cost/∂x̂₀ through the folded layer against central differences of the cost itself (φ is
    // linear and the images sit inside the clamp, so the differences are exact up to rounding).
    const y = Float32Array.from({ length: want.length }, () => r());
    const { gradX0, cost } = await obj.costGradX0(images, y, batch, 1, [-1, 1]);
    const h = 1e-2;
    for (const j of [0, 8, 24, 48, S * S + 3, S * S + 30]) {
      const at = (d: number) => {
        const p = Float32Array.from(images);
        p[j]! += d;
        return obj.costGradX0(p, y, batch, 1, [-1, 1]);
      };
      const n = Math.floor(j / (S * S));
      const fd = ((await at(h)).cost[n]! - (await at(-h)).cost[n]!) / (2 * h);
      assert.ok(
        Math.abs(gradX0[j]! - fd) <= 2e-3 * Math.max(1, Math.abs(fd)),
        `${what} ∂/∂x[${j}]: ${gradX0[j]} vs ${fd}`,
      );
    }
    assert.ok(cost.every(Number.isFinite));
  }
});

test('the fold leaves alone what is outside its pattern', () => {
  const plain = convExtractor(3, CROP, { pads: [1, 1, 1, 1] });
  const none = (s: PreprocessStep[], m: Model = plain, image: [number, number, number] = [1, S, S]) =>
    foldRepeatedChannels(s, m, 'pixels', image);
  assert.equal(
    none(
      steps.filter((s) => s.op !== 'repeat_channels'),
      plain,
      [3, S, S],
    ),
    undefined,
    'no copies',
  );
  assert.equal(none([{ op: 'grayscale' }, ...steps], plain, [3, S, S]), undefined, 'grayscale before the copies');
  assert.equal(
    none([steps[0]!, steps[1]!, steps[3]!, steps[2]!]),
    undefined,
    'a per-channel normalisation before a spatial step',
  );
  assert.equal(
    none([...steps.slice(0, 3), { op: 'normalize', mean: [0.5, 0.5], std: [1, 1] }]),
    undefined,
    'a normalisation that does not match the channels (left to the preprocessing to refuse)',
  );
  assert.equal(none(steps, convExtractor(3, CROP, { group: 3 }, 3)), undefined, 'a grouped convolution');
  assert.equal(none(steps, convExtractor(3, CROP, {}, 4, 3, true)), undefined, 'an input read by two nodes');
  assert.equal(
    none(steps, convExtractor(3, CROP, { auto_pad: 'NOTSET' }), [2, S, S]),
    undefined,
    '3 copies of 2 channels',
  );
  // Channel-uniform steps after the copies are fine, and a copy of the mean-free kind needs no map.
  const uniform = foldRepeatedChannels(
    [
      { op: 'repeat_channels', channels: 3 },
      { op: 'center_crop', size: [CROP, CROP] },
      { op: 'rescale', from: [0, 1], to: [-1, 1] },
    ],
    plain,
    'pixels',
    [1, S, S],
  );
  assert.ok(uniform);
  assert.equal(uniform.model.graph.nodes.filter((n) => n.opType === 'Add').length, 0, 'no mean, no map');
});
