import { test } from 'node:test';
import assert from 'node:assert/strict';
import { vjp } from '../../../engine/autodiff/vjp.ts';
import { InputError } from '../../../engine/errors.ts';
import { DataType, upgradeOpset } from '../../../engine/onnx/index.ts';
import type { Model } from '../../../engine/onnx/index.ts';
import { resolveShapes, tensor } from '../../../engine/runtime/index.ts';
import { model } from '../../fixtures/graphs.ts';
import { directionalCheck } from './harness.ts';

const F32 = DataType.float32;

function values(n: number, seed: number): number[] {
  return Array.from({ length: n }, (_, i) => Math.sin(1.3 * i + seed));
}

async function refused(m: Model, wrt: string[], pattern: RegExp): Promise<void> {
  const shapes = await resolveShapes(m, {});
  assert.throws(
    () => vjp(m, { of: 'y', wrt, shapes }),
    (err: unknown) => err instanceof InputError && pattern.test(err.message),
  );
}

test('Conv weights computed in the graph get their adjoint by Reshape/Transpose/Slice', async () => {
  const { m, b } = model(17, [{ name: 'x', dataType: F32, shape: [1, 4, 5, 5] }]);
  // Weights behind an op are not constants the rule can read, so the flip is emitted as graph ops.
  const w = b.op('Identity', [b.constant(F32, [6, 2, 3, 3], values(108, 1), 'w')]);
  b.op('Conv', ['x', w], { group: 2, pads: [1, 1, 1, 1] }, 'y');
  m.graph.outputs.push({ name: 'y', dataType: F32, shape: null });
  const g = vjp(m, { of: 'y', wrt: ['x'], shapes: await resolveShapes(m, {}) });
  assert.ok(g.graph.nodes.some((n) => n.opType === 'Slice'));
  const r = await directionalCheck(m, {
    of: 'y',
    wrt: ['x'],
    feeds: { x: tensor('float32', [1, 4, 5, 5], values(100, 2)) },
    step: 0.5,
    gradientModel: g,
  });
  assert.ok(r.relError < 1e-4, `relative error ${r.relError}`);
});

test('a gradient with respect to Conv weights is refused, naming the node', async () => {
  const { m, b } = model(17, [
    { name: 'x', dataType: F32, shape: [1, 2, 4, 4] },
    { name: 'w', dataType: F32, shape: [3, 2, 3, 3] },
  ]);
  b.add('Conv', ['x', 'w'], {}, { outputs: ['y'], name: 'conv1' });
  m.graph.outputs.push({ name: 'y', dataType: F32, shape: null });
  await refused(m, ['w'], /node 'conv1'.*Conv.*weights are not supported/);
});

test('ConvTranspose with output_shape is refused', async () => {
  const { m, b } = model(17, [{ name: 'x', dataType: F32, shape: [1, 2, 3, 3] }]);
  const w = b.constant(F32, [2, 2, 3, 3], values(36, 3), 'w');
  b.op('ConvTranspose', ['x', w], { strides: [2, 2], output_shape: [7, 7] }, 'y');
  m.graph.outputs.push({ name: 'y', dataType: F32, shape: null });
  await refused(m, ['x'], /output_shape is not supported/);
});

test('Resize in tf_crop_and_resize mode is refused', async () => {
  const { m, b } = model(13, [{ name: 'x', dataType: F32, shape: [1, 1, 4, 4] }]);
  const roi = b.constant(F32, [8], [0, 0, 0.1, 0.1, 1, 1, 0.9, 0.9], 'roi');
  const scales = b.constant(F32, [4], [1, 1, 2, 2], 'scales');
  b.op('Resize', ['x', roi, scales], { mode: 'linear', coordinate_transformation_mode: 'tf_crop_and_resize' }, 'y');
  m.graph.outputs.push({ name: 'y', dataType: F32, shape: null });
  await refused(m, ['x'], /tf_crop_and_resize is not supported/);
});

test('Pad in reflect mode with pads computed from static shapes in the graph is differentiated', async () => {
  const { m, b } = model(13, [{ name: 'x', dataType: F32, shape: [2, 3] }]);
  const pads = b.op('Concat', [b.op('Shape', ['x']), b.int64s([0, 0])], { axis: 0 });
  b.op('Pad', ['x', b.op('Sub', [pads, b.int64s([1, 2, 0, 0])])], { mode: 'reflect' }, 'y');
  m.graph.outputs.push({ name: 'y', dataType: F32, shape: null });
  const r = await directionalCheck(m, { of: 'y', wrt: ['x'], feeds: { x: tensor('float32', [2, 3], values(6, 4)) } });
  assert.ok(r.relError < 1e-4, `relative error ${r.relError}`);
});

test('Pad in reflect mode with pads fed at run time is refused', async () => {
  const { m, b } = model(13, [
    { name: 'x', dataType: F32, shape: [2, 3] },
    { name: 'p', dataType: DataType.int64, shape: [4] },
  ]);
  b.op('Pad', ['x', 'p'], { mode: 'reflect' }, 'y');
  m.graph.outputs.push({ name: 'y', dataType: F32, shape: null });
  await refused(m, ['x'], /reflect padding needs constant pads/);
});

test('an opset-9 export with Upsample and attribute pads is differentiated after upgradeOpset', async () => {
  const { m, b } = model(9, [{ name: 'x', dataType: F32, shape: [1, 2, 3, 4] }]);
  const up = b.op('Upsample', ['x', b.constant(F32, [4], [1, 1, 2, 2], 'scales')], { mode: 'nearest' });
  const padded = b.op('Pad', [up], { mode: 'reflect', pads: [0, 0, 1, 2, 0, 0, 2, 1] });
  b.op('Conv', [padded, b.constant(F32, [3, 2, 3, 3], values(54, 5), 'w')], { strides: [2, 2] }, 'y');
  m.graph.outputs.push({ name: 'y', dataType: F32, shape: null });
  const upgraded = upgradeOpset(m, 11);
  assert.deepEqual(
    upgraded.graph.nodes.map((n) => n.opType),
    ['Resize', 'Pad', 'Conv'],
  );
  const r = await directionalCheck(upgraded, {
    of: 'y',
    wrt: ['x'],
    feeds: { x: tensor('float32', [1, 2, 3, 4], values(24, 6)) },
    step: 0.5,
  });
  assert.ok(r.relError < 1e-4, `relative error ${r.relError}`);
});

test('Resize with scales computed from constants in the graph is differentiated', async () => {
  const { m, b } = model(13, [{ name: 'x', dataType: F32, shape: [1, 1, 4, 4] }]);
  const scales = b.op('Add', [b.constant(F32, [4], [0.5, 0.5, 1.7, 1.7], 'half'), b.scalar(0.5, F32)]);
  b.op('Resize', ['x', '', scales], { mode: 'nearest' }, 'y');
  m.graph.outputs.push({ name: 'y', dataType: F32, shape: null });
  const r = await directionalCheck(m, {
    of: 'y',
    wrt: ['x'],
    feeds: { x: tensor('float32', [1, 1, 4, 4], values(16, 7)) },
    step: 0.5,
  });
  assert.ok(r.relError < 1e-4, `relative error ${r.relError}`);
});
