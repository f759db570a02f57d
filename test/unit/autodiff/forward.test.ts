import { test } from 'node:test';
import assert from 'node:assert/strict';
import { restatedForward } from '../../../engine/autodiff/forward.ts';
import { InputError } from '../../../engine/errors.ts';
import { DataType, float } from '../../../engine/onnx/index.ts';
import type { GraphBuilder, Model } from '../../../engine/onnx/index.ts';
import { closeSessions, openSession, resolveShapes, tensor } from '../../../engine/runtime/index.ts';
import { model } from '../../fixtures/graphs.ts';
import { random } from '../../fixtures/models.ts';
import { relL2 } from '../../helpers/rel-l2.ts';

/**
 * restatedForward (engine/autodiff/forward.ts): the forward pass as the gradient graph computes
 * it, for forward-only sessions. It must give the model's own outputs, take the cheaper forms
 * where the rules restate a node, and do no more work than the model (the Indices a MaxPool's
 * gradient adds are dropped again).
 */

const F32 = DataType.float32;

function values(seed: number, n: number): Float32Array {
  const r = random(seed);
  return Float32Array.from({ length: n }, () => 2 * r() - 1);
}

function build(dims: number[], body: (b: GraphBuilder) => string): Model {
  const { m, b } = model(17, [{ name: 'x', dataType: F32, shape: dims }], 'forward');
  b.op('Identity', [body(b)], undefined, 'y');
  m.graph.outputs.push({ name: 'y', dataType: F32, shape: null });
  return m;
}

const count = (m: Model, op: string): number => m.graph.nodes.filter((n) => n.opType === op).length;

async function same(m: Model, dims: number[]): Promise<Model> {
  const shapes = await resolveShapes(m, { x: dims });
  const f = restatedForward(m, { of: 'y', wrt: ['x'], shapes });
  assert.deepEqual(
    f.graph.inputs.map((v) => v.name),
    ['x'],
    'the restated forward takes the model inputs only',
  );
  const x = tensor(
    'float32',
    dims,
    values(
      3,
      dims.reduce((p, q) => p * q, 1),
    ),
  );
  const [want, got] = [await (await openSession(m)).run({ x }), await (await openSession(f)).run({ x })];
  const [e, a] = [want['y']!.data as Float32Array, got['y']!.data as Float32Array];
  assert.equal(a.length, e.length);
  assert.ok(relL2(a, e) < 1e-5, `relative difference ${relL2(a, e)}`);
  await closeSessions();
  return f;
}

test('a Conv after a nearest ×2 upsampling: computed as phases, no upsampled map', async () => {
  const dims = [2, 3, 5, 4];
  const m = build(dims, (b) => {
    const up = b.op('Resize', ['x', '', b.constant(F32, [4], [1, 1, 2, 2], 'scales')], { mode: 'nearest' });
    const w = b.constant(F32, [4, 3, 3, 3], values(5, 4 * 27), 'w');
    return b.op('Conv', [up, w, b.constant(F32, [4], [0.1, -0.2, 0.3, 0], 'bias')], { pads: [1, 1, 1, 1] });
  });
  const f = await same(m, dims);
  assert.equal(count(f, 'Resize'), 0, 'the upsampled map is still computed');
  assert.equal(count(f, 'Conv'), 4, 'expected one Conv per output phase');
});

test('an exported GroupNorm: its Mul and Add as one BatchNormalization, the norm as a LayerNormalization', async () => {
  const dims = [2, 6, 3, 4];
  const m = build(dims, (b) => {
    const grouped = b.op('Reshape', ['x', b.int64s([2, 3, -1], 'shape')]);
    const norm = b.op('InstanceNormalization', [grouped, b.filled(1, F32, [3]), b.filled(0, F32, [3])], {
      epsilon: float(1e-5),
    });
    const back = b.op('Reshape', [norm, b.op('Shape', ['x'])]);
    const gamma = b.constant(F32, [6, 1, 1], [0.5, 1, 1.5, 2, 0.7, 1.2], 'gamma');
    const beta = b.constant(F32, [6, 1, 1], [0, 0.1, -0.1, 0.2, -0.2, 0.3], 'beta');
    return b.op('Add', [b.op('Mul', [back, gamma]), beta]);
  });
  const f = await same(m, dims);
  assert.equal(count(f, 'BatchNormalization'), 1);
  assert.equal(count(f, 'Mul'), 0, 'the Mul by γ is still there');
  const ln = f.graph.nodes.filter((n) => n.opType === 'LayerNormalization');
  assert.equal(ln.length, 1);
  assert.equal(ln[0]!.outputs.length, 1, 'the statistics the backward reads are still computed');
});

test('a MaxPool: computed once, without Indices (its gradient reads them)', async () => {
  const dims = [1, 2, 6, 6];
  const m = build(dims, (b) =>
    b.op('Sigmoid', [b.op('MaxPool', ['x'], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] })]),
  );
  const f = await same(m, dims);
  const pools = f.graph.nodes.filter((n) => n.opType === 'MaxPool');
  assert.equal(pools.length, 1);
  assert.deepEqual(pools[0]!.outputs.filter(Boolean).length, 1);
});

test('a model with an op that has no gradient rule: refused with an InputError (callers keep the model)', async () => {
  const dims = [1, 4];
  const m = build(dims, (b) => b.op('Hardmax', ['x']));
  const shapes = await resolveShapes(m, { x: dims });
  assert.throws(() => restatedForward(m, { of: 'y', wrt: ['x'], shapes }), InputError);
});
