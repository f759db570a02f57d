import { test } from 'node:test';
import assert from 'node:assert/strict';
import { vjp } from '../../../engine/autodiff/vjp.ts';
import { InputError } from '../../../engine/errors.ts';
import { DataType, float } from '../../../engine/onnx/index.ts';
import type { Model } from '../../../engine/onnx/index.ts';
import { openSession, resolveShapes, tensor } from '../../../engine/runtime/index.ts';
import type { HostTensor } from '../../../engine/runtime/index.ts';
import { model } from '../../fixtures/graphs.ts';
import { directionalCheck } from './harness.ts';

function values(n: number, seed: number): number[] {
  return Array.from({ length: n }, (_, i) => Math.sin(1.7 * i + seed) * 1.5 + 0.3 * Math.cos(0.37 * i * seed));
}

/** Runs a gradient model with the given cotangent and returns d_<wrt>. */
async function gradient(g: Model, feeds: Record<string, HostTensor>, wrt: string): Promise<number[]> {
  const out = await (await openSession(g)).run(feeds);
  return Array.from(out[`d_${wrt}`]!.data as Float64Array | Float32Array);
}

function maxAbsDiff(a: readonly number[], b: readonly number[]): number {
  assert.equal(a.length, b.length);
  return Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));
}

test('ReduceMax shares dy evenly among three tied maxima', async () => {
  const { m, b } = model(18, [{ name: 'x', dataType: DataType.float64, shape: [2, 4] }]);
  b.op('ReduceMax', ['x', b.int64s([1])], { keepdims: 0 }, 'y');
  m.graph.outputs.push({ name: 'y', dataType: DataType.float64, shape: [2] });
  const g = vjp(m, { of: 'y', wrt: ['x'], shapes: await resolveShapes(m, {}) });
  const dx = await gradient(
    g,
    { x: tensor('float64', [2, 4], [2, 2, -1, 2, 0.5, 3, 1, 0]), d_y: tensor('float64', [2], [0.9, -2]) },
    'x',
  );
  assert.deepEqual(
    dx.map((v) => Math.round(v * 1e12) / 1e12 + 0),
    [0.3, 0.3, 0, 0.3, 0, -2, 0, 0],
  );
});

test('ReduceL2 of an all-zero slice has a zero gradient there, not NaN', async () => {
  const { m, b } = model(13, [{ name: 'x', dataType: DataType.float64, shape: [2, 3] }]);
  b.op('ReduceL2', ['x'], { axes: [1], keepdims: 0 }, 'y');
  m.graph.outputs.push({ name: 'y', dataType: DataType.float64, shape: [2] });
  const g = vjp(m, { of: 'y', wrt: ['x'], shapes: await resolveShapes(m, {}) });
  const dx = await gradient(
    g,
    { x: tensor('float64', [2, 3], [0, 0, 0, 3, 0, -4]), d_y: tensor('float64', [2], [1, 2]) },
    'x',
  );
  assert.deepEqual(
    dx.map((v) => Math.round(v * 1e12) / 1e12 + 0),
    [0, 0, 0, 1.2, 0, -1.6],
  );
});

test('ReduceMean without static shapes counts the averaged elements in the graph', async () => {
  const { m, b } = model(13, [{ name: 'x', dataType: DataType.float64, shape: ['n', 3] }]);
  b.op('ReduceMean', ['x'], { axes: [1], keepdims: 0 }, 'y');
  m.graph.outputs.push({ name: 'y', dataType: DataType.float64, shape: ['n'] });
  const g = vjp(m, { of: 'y', wrt: ['x'] });
  assert.ok(g.graph.nodes.some((n) => n.opType === 'Size'));
  const r = await directionalCheck(m, {
    of: 'y',
    wrt: ['x'],
    feeds: { x: tensor('float64', [2, 3], values(6, 1)) },
    gradientModel: g,
  });
  assert.ok(r.relError < 1e-7, `rel error ${r.relError}`);
});

function refused(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof InputError && pattern.test(err.message));
}

test('BatchNormalization in training mode is refused naming the node', () => {
  const { m, b } = model(15, [{ name: 'x', dataType: DataType.float32, shape: [2, 3] }]);
  const stats = [1, 2, 3, 4].map((i) => b.constant(DataType.float32, [3], values(3, i)));
  b.add('BatchNormalization', ['x', ...stats], { training_mode: 1 }, { outputs: ['y'], name: 'bn' });
  m.graph.outputs.push({ name: 'y', dataType: DataType.float32, shape: [2, 3] });
  refused(() => vjp(m, { of: 'y', wrt: ['x'] }), /node 'bn'.*BatchNormalization.*training mode.*eval mode/);
});

test('BatchNormalization before opset 14 with running-statistics outputs (training mode) is refused', () => {
  const { m, b } = model(12, [{ name: 'x', dataType: DataType.float32, shape: [2, 3] }]);
  const stats = [1, 2, 3, 4].map((i) => b.constant(DataType.float32, [3], values(3, i)));
  b.add('BatchNormalization', ['x', ...stats], {}, { outputs: ['y', 'mean', 'var'], name: 'bn9' });
  m.graph.outputs.push({ name: 'y', dataType: DataType.float32, shape: [2, 3] });
  refused(() => vjp(m, { of: 'y', wrt: ['x'] }), /node 'bn9'.*training mode/);
});

test('a gradient through LayerNormalization Mean output is refused', () => {
  const { m, b } = model(17, [{ name: 'x', dataType: DataType.float64, shape: [2, 3] }]);
  const scale = b.constant(DataType.float64, [3], [1, 1, 1]);
  b.add('LayerNormalization', ['x', scale], {}, { outputs: ['y', 'mean'], name: 'ln' });
  m.graph.outputs.push({ name: 'mean', dataType: DataType.float64, shape: [2, 1] });
  refused(() => vjp(m, { of: 'mean', wrt: ['x'] }), /node 'ln'.*Mean and InvStdDev outputs/);
});

/**
 * LayerNorm over the last axis as exporters emit it before opset 17 (ReduceMean, Sub, Pow, Add,
 * Sqrt, Div, Mul, Add), or fused as LayerNormalization.
 */
function layerNormModel(opset: number, decomposed: boolean): Model {
  const F64 = DataType.float64;
  const { m, b } = model(opset, [{ name: 'x', dataType: F64, shape: [2, 3, 4] }]);
  const gamma = b.constant(F64, [4], [0.8, 1.3, -0.5, 1.1], 'gamma');
  const beta = b.constant(F64, [4], [0.1, -0.2, 0.3, 0], 'beta');
  const mean = (t: string): string =>
    opset >= 18 ? b.op('ReduceMean', [t, b.int64s([-1])]) : b.op('ReduceMean', [t], { axes: [-1] });
  let y: string;
  if (decomposed) {
    const d = b.op('Sub', ['x', mean('x')]);
    const variance = mean(b.op('Pow', [d, b.scalar(2, F64)]));
    const std = b.op('Sqrt', [b.op('Add', [variance, b.scalar(1e-5, F64)])]);
    y = b.op('Add', [b.op('Mul', [b.op('Div', [d, std]), gamma]), beta]);
  } else {
    y = b.op('LayerNormalization', ['x', gamma, beta], { axis: -1, epsilon: float(1e-5) });
  }
  b.op('Identity', [y], undefined, 'y');
  m.graph.outputs.push({ name: 'y', dataType: F64, shape: [2, 3, 4] });
  return m;
}

test('decomposed LayerNorm (opsets 11 and 18) differentiates like the fused op', async (t) => {
  const x = tensor('float64', [2, 3, 4], values(24, 2));
  const dy = tensor('float64', [2, 3, 4], values(24, 5));
  const fused = layerNormModel(17, false);
  const reference = await gradient(
    vjp(fused, { of: 'y', wrt: ['x'], shapes: await resolveShapes(fused, {}) }),
    { x, d_y: dy },
    'x',
  );
  for (const opset of [11, 18]) {
    const m = layerNormModel(opset, true);
    const g = vjp(m, { of: 'y', wrt: ['x'], shapes: await resolveShapes(m, {}) });
    const diff = maxAbsDiff(await gradient(g, { x, d_y: dy }, 'x'), reference);
    assert.ok(diff < 1e-9, `opset ${opset}: max |decomposed - fused| = ${diff}`);
    const r = await directionalCheck(m, { of: 'y', wrt: ['x'], feeds: { x }, gradientModel: g });
    assert.ok(r.relError < 1e-7, `opset ${opset}: directional rel error ${r.relError}`);
    t.diagnostic(
      `opset ${opset}: |decomposed - fused| ${diff.toExponential(1)}, directional ${r.relError.toExponential(1)}`,
    );
  }
});

/**
 * GroupNorm (8 channels, 4 groups, per-channel affine) as exporters emit it with InstanceNorm
 * (Reshape to [N, G, -1], InstanceNormalization with unit scale, Reshape back, Mul, Add), or as
 * GroupNormalization-21.
 */
function groupNormModel(decomposed: boolean, opset = decomposed ? 13 : 21): Model {
  const F32 = DataType.float32;
  const { m, b } = model(opset, [{ name: 'x', dataType: F32, shape: [2, 8, 3, 3] }]);
  const weight = values(8, 7);
  const bias = values(8, 8);
  let y: string;
  if (decomposed) {
    const grouped = b.op('Reshape', ['x', b.int64s([0, 4, -1])]);
    const ones = b.constant(F32, [4], [1, 1, 1, 1]);
    const zeros = b.constant(F32, [4], [0, 0, 0, 0]);
    const normed = b.op('InstanceNormalization', [grouped, ones, zeros], { epsilon: float(1e-5) });
    const back = b.op('Reshape', [normed, b.op('Shape', ['x'])]);
    const scaled = b.op('Mul', [back, b.constant(F32, [8, 1, 1], weight)]);
    y = b.op('Add', [scaled, b.constant(F32, [8, 1, 1], bias)]);
  } else {
    y = b.op('GroupNormalization', ['x', b.constant(F32, [8], weight), b.constant(F32, [8], bias)], {
      num_groups: 4,
      epsilon: float(1e-5),
    });
  }
  b.op('Identity', [y], undefined, 'y');
  m.graph.outputs.push({ name: 'y', dataType: F32, shape: [2, 8, 3, 3] });
  return m;
}

test('decomposed GroupNorm (Reshape, InstanceNormalization, Reshape, Mul, Add) differentiates like the fused op', async (t) => {
  const x = tensor('float32', [2, 8, 3, 3], values(144, 3));
  const dy = tensor('float32', [2, 8, 3, 3], values(144, 4));
  const grads = new Map<string, number[]>();
  // Opset 13 recomputes the statistics; from 17 the forward pass returns them (a LayerNormalization).
  for (const [label, m] of [
    ['fused', groupNormModel(false)],
    ['decomposed opset 13', groupNormModel(true, 13)],
    ['decomposed opset 17', groupNormModel(true, 17)],
  ] as const) {
    const g = vjp(m, { of: 'y', wrt: ['x'], shapes: await resolveShapes(m, {}) });
    const ops = new Set(g.graph.nodes.map((n) => n.opType));
    if (label === 'decomposed opset 17') assert.ok(ops.has('LayerNormalization') && !ops.has('InstanceNormalization'));
    if (label === 'decomposed opset 13') assert.ok(ops.has('InstanceNormalization'));
    const out = await (await openSession(g)).run({ x, d_y: dy });
    grads.set(label, Array.from(out['d_x']!.data as Float32Array));
    // The forward output of the gradient graph is the model's own.
    const y = Array.from((await (await openSession(m)).run({ x }))['y']!.data as Float32Array);
    assert.ok(maxAbsDiff(Array.from(out['y']!.data as Float32Array), y) < 1e-5, `${label}: forward output differs`);
    const r = await directionalCheck(m, { of: 'y', wrt: ['x'], feeds: { x }, gradientModel: g, step: 1e-2 });
    assert.ok(r.relError < 1e-3, `${label}: directional rel error ${r.relError}`);
    t.diagnostic(`${label}: directional ${r.relError.toExponential(1)}`);
  }
  for (const label of ['decomposed opset 13', 'decomposed opset 17']) {
    const diff = maxAbsDiff(grads.get(label)!, grads.get('fused')!);
    assert.ok(diff < 1e-4, `${label}: max |decomposed - fused| = ${diff}`);
    t.diagnostic(`${label}: |decomposed - fused| ${diff.toExponential(1)}`);
  }
});

test('LayerNormalization and Softmax differentiate without static shapes (negative axes)', async () => {
  const F64 = DataType.float64;
  const { m, b } = model(17, [{ name: 'x', dataType: F64, shape: ['n', 3, 4] }]);
  const scale = b.constant(F64, [3, 4], values(12, 9));
  const normed = b.op('LayerNormalization', ['x', scale], { axis: -2 });
  b.op('Softmax', [normed], { axis: -1 }, 'y');
  m.graph.outputs.push({ name: 'y', dataType: F64, shape: ['n', 3, 4] });
  const g = vjp(m, { of: 'y', wrt: ['x'] });
  const r = await directionalCheck(m, {
    of: 'y',
    wrt: ['x'],
    feeds: { x: tensor('float64', [2, 3, 4], values(24, 6)) },
    gradientModel: g,
  });
  assert.ok(r.relError < 1e-7, `rel error ${r.relError}`);
});
