import { test } from 'node:test';
import assert from 'node:assert/strict';
import { vjp } from '../../../../engine/autodiff/vjp.ts';
import type { Model } from '../../../../engine/onnx/index.ts';
import { resolveShapes, tensor } from '../../../../engine/runtime/index.ts';
import { directionalCheck } from '../harness.ts';
import { extractorChain, resnetStage, unetBlock, vaeDecoderBlock } from './nets.ts';

/**
 * Whole models in float32: ⟨vjp, u⟩ against central differences along random directions u. The
 * step (1e-3) is small enough to cross few ReLU/MaxPool kinks and, with the cotangent taken
 * along the difference itself, large enough for float32 rounding to stay far below 1e-3.
 */
const TOLERANCE = 1e-3;

function uniform(dims: number[], seed: number): ReturnType<typeof tensor> {
  let s = seed;
  const n = dims.reduce((a, d) => a * d, 1);
  return tensor(
    'float32',
    dims,
    Array.from({ length: n }, () => {
      s = (s * 16807) % 2147483647;
      return (s / 2147483647) * 2 - 1;
    }),
  );
}

async function check(model: Model, input: string, of: string, dims: number[]): Promise<void> {
  const feeds = { [input]: uniform(dims, 3) };
  const shapes = await resolveShapes(model, { [input]: dims });
  const gradientModel = vjp(model, { of, wrt: [input], shapes });
  for (const seed of ['first direction', 'second direction']) {
    const r = await directionalCheck(model, {
      of,
      wrt: [input],
      feeds,
      step: 1e-3,
      cotangent: 'difference',
      seed,
      gradientModel,
    });
    assert.ok(
      r.relError <= TOLERANCE,
      `${seed}: analytic ${r.analytic} vs numeric ${r.numeric}, relative error ${r.relError.toExponential(2)}`,
    );
  }
}

function count(model: Model, op: string): number {
  return model.graph.nodes.filter((n) => n.opType === op).length;
}

test('ResNet stage (strided Conv-BN-Relu, MaxPool, projection and identity residuals)', async () => {
  await check(resnetStage(), 'pixels', 'logits', [1, 3, 32, 32]);
});

test('ResNet stage: only the three strided Convs take the ConvTranspose path', async () => {
  const m = resnetStage();
  const g = vjp(m, { of: 'logits', wrt: ['pixels'], shapes: await resolveShapes(m, {}) });
  assert.equal(count(g, 'ConvTranspose'), 3);
  // Forward Convs plus one flipped-weight Conv per stride-1 Conv.
  assert.equal(count(g, 'Conv'), count(m, 'Conv') + count(m, 'Conv') - 3);
});

test('UNet block (GroupNorm, SiLU, attention, Pad + strided Conv, nearest Resize, ConvTranspose, skip Concat)', async () => {
  await check(unetBlock(), 'latent', 'out', [1, 8, 8, 8]);
});

test('VAE decoder block (GroupNorm, SiLU, Conv, nearest Resize by sizes)', async () => {
  await check(vaeDecoderBlock(), 'z', 'image', [1, 4, 8, 8]);
});

test('extractor preprocessing chain (cubic and linear Resize, centre crop, normalisation, channel repeat)', async () => {
  await check(extractorChain(), 'gray', 'features', [1, 1, 24, 20]);
});
