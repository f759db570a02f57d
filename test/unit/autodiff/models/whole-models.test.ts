import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { vjp } from '../../../../engine/autodiff/vjp.ts';
import type { Model } from '../../../../engine/onnx/index.ts';
import { openSession, resolveShapes, tensor } from '../../../../engine/runtime/index.ts';
import { directionalCheck } from '../harness.ts';
import { float64Twin } from '../../../fixtures/float64.ts';
import { random } from '../../../fixtures/models.ts';
import { extractorChain, resnetStage, unetBlock, vaeDecoderBlock } from '../../../fixtures/cnn.ts';

/**
 * Whole models in float32: ⟨vjp, u⟩ against central differences along random directions u. For
 * the smooth models (SiLU, GroupNorm, Softmax) a float32 step of 1e-3, with the cotangent taken
 * along the difference itself, keeps rounding far below 1e-3; models with ReLU/MaxPool kinks use
 * their float64 twin instead (a float32 step that avoids every kink is lost in rounding).
 */
const TOLERANCE = 1e-3;

function uniform(dims: number[], seed: number): ReturnType<typeof tensor> {
  const next = random(seed);
  return tensor(
    'float32',
    dims,
    Array.from({ length: dims.reduce((a, d) => a * d, 1) }, () => 2 * next()),
  );
}

/**
 * Checks two directions. With `twin`, reference differences come from the model's float64 twin at
 * a step of 1e-6 (clear of every kink); otherwise from the float32 model itself at 1e-3.
 */
async function check(
  t: TestContext,
  model: Model,
  input: string,
  of: string,
  dims: number[],
  twin = false,
): Promise<void> {
  const feeds = { [input]: uniform(dims, 3) };
  const shapes = await resolveShapes(model, { [input]: dims });
  const gradientModel = vjp(model, { of, wrt: [input], shapes });
  const reference = twin ? float64Twin(model, shapes) : undefined;
  if (reference) {
    // The twin shares the interpolation matrices with the Resize rule: anchor it to onnxruntime's own output.
    const y32 = (await (await openSession(model)).run(feeds))[of]!;
    const wide = tensor('float64', dims, Float64Array.from(feeds[input]!.data as Float32Array));
    const y64 = (await (await openSession(reference)).run({ [input]: wide }))[of]!;
    let worst = 0;
    for (let i = 0; i < y32.data.length; i++)
      worst = Math.max(worst, Math.abs(Number(y32.data[i]) - Number(y64.data[i])));
    assert.ok(worst < 1e-4, `the float64 twin differs from the model by ${worst}`);
  }
  for (const seed of ['first direction', 'second direction']) {
    const r = await directionalCheck(model, {
      of,
      wrt: [input],
      feeds,
      ...(reference ? { step: 1e-6, reference } : { step: 1e-3, cotangent: 'difference' as const }),
      seed,
      gradientModel,
    });
    t.diagnostic(`${seed}: relative error ${r.relError.toExponential(2)}`);
    assert.ok(
      r.relError <= TOLERANCE,
      `${seed}: analytic ${r.analytic} vs numeric ${r.numeric}, relative error ${r.relError.toExponential(2)}`,
    );
  }
}

function count(model: Model, op: string): number {
  return model.graph.nodes.filter((n) => n.opType === op).length;
}

test('ResNet stage (strided Conv-BN-Relu, MaxPool, projection and identity residuals)', async (t) => {
  await check(t, resnetStage(), 'pixels', 'logits', [1, 3, 32, 32], true);
});

test('ResNet stage: only the three strided Convs take the ConvTranspose path', async () => {
  const m = resnetStage();
  const g = vjp(m, { of: 'logits', wrt: ['pixels'], shapes: await resolveShapes(m, {}) });
  assert.equal(count(g, 'ConvTranspose'), 3);
  // Forward Convs plus one flipped-weight Conv per stride-1 Conv.
  assert.equal(count(g, 'Conv'), count(m, 'Conv') + count(m, 'Conv') - 3);
});

test('UNet block (GroupNorm, SiLU, attention, Pad + strided Conv, nearest Resize, ConvTranspose, skip Concat)', async (t) => {
  await check(t, unetBlock(), 'latent', 'out', [1, 8, 8, 8]);
});

test('VAE decoder block (GroupNorm, SiLU, Conv, nearest Resize by sizes)', async (t) => {
  await check(t, vaeDecoderBlock(), 'z', 'image', [1, 4, 8, 8]);
});

test('extractor preprocessing chain (cubic and linear Resize, centre crop, normalisation, channel repeat)', async (t) => {
  await check(t, extractorChain(), 'gray', 'features', [1, 1, 24, 20], true);
});
