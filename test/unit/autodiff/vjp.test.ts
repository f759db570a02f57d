import { test } from 'node:test';
import assert from 'node:assert/strict';
import { unsupportedNodes, vjp } from '../../../engine/autodiff/vjp.ts';
import { InputError } from '../../../engine/errors.ts';
import { DataType, makeTensor } from '../../../engine/onnx/index.ts';
import type { Model } from '../../../engine/onnx/index.ts';
import { openSession, resolveShapes, tensor } from '../../../engine/runtime/index.ts';
import { model } from '../../fixtures/graphs.ts';
import { directionalCheck } from './harness.ts';

const F64 = DataType.float64;

/** y = reshape(tanh(x·W + x) * x, shape-of-x computed through an integer subgraph), x used three times. */
function fanOutModel(opset = 17): Model {
  const { m, b } = model(opset, [
    { name: 'x', dataType: F64, shape: [2, 3] },
    { name: 'unused', dataType: F64, shape: [4] },
  ]);
  const w = b.constant(F64, [3, 3], [0.5, -0.2, 0.1, 0.3, 0.8, -0.4, 0.2, 0.1, 0.6], 'W');
  const h = b.op('Add', [b.op('MatMul', ['x', w]), 'x']);
  const t = b.op('Mul', [b.op('Tanh', [h]), 'x']);
  const shape = b.op('Shape', ['x']);
  const flat = b.op('Reshape', [
    t,
    b.op('Concat', [b.op('Slice', [shape, b.int64s([0]), b.int64s([1])]), b.int64s([-1])], { axis: 0 }),
  ]);
  b.op('Identity', [flat], undefined, 'y');
  m.graph.outputs.push({ name: 'y', dataType: F64, shape: [2, 3] });
  return m;
}

const x0 = tensor('float64', [2, 3], [0.3, -1.2, 0.7, 1.5, -0.4, 0.9]);

test('the gradient model has the documented interface', () => {
  const g = vjp(fanOutModel(), { of: 'y', wrt: ['x', 'unused'] });
  assert.deepEqual(
    g.graph.inputs.map((v) => v.name),
    ['x', 'unused', 'd_y'],
  );
  assert.deepEqual(
    g.graph.outputs.map((v) => v.name),
    ['y', 'd_x', 'd_unused'],
  );
  assert.ok(
    g.graph.nodes.every((n) => n.domain === ''),
    'only standard ops are emitted',
  );
});

test('fan-out is summed and integer shape subgraphs are constants (directional derivative)', async () => {
  const r = await directionalCheck(fanOutModel(), {
    of: 'y',
    wrt: ['x'],
    feeds: { x: x0, unused: tensor('float64', [4]) },
  });
  assert.ok(r.relError < 1e-7, `rel error ${r.relError}`);
});

test('an input that y does not depend on gets a zero gradient of its shape', async () => {
  const g = vjp(fanOutModel(), { of: 'y', wrt: ['x', 'unused'] });
  const s = await openSession(g);
  const out = await s.run({
    x: x0,
    unused: tensor('float64', [4], [1, 2, 3, 4]),
    d_y: tensor('float64', [2, 3], [1, 1, 1, 1, 1, 1]),
  });
  assert.deepEqual([...out['d_unused']!.dims], [4]);
  assert.deepEqual([...out['d_unused']!.data], [0, 0, 0, 0]);
  assert.deepEqual([...out['y']!.dims], [2, 3]);
});

test('weights get no gradient work: no node computes a gradient for an initializer', () => {
  const g = vjp(fanOutModel(), { of: 'y', wrt: ['x'] });
  // The only MatMuls are the forward one and the one for d_x (dy · Wᵀ); dW would need a third.
  assert.equal(g.graph.nodes.filter((n) => n.opType === 'MatMul').length, 2);
});

test('without static shapes, broadcasting is undone in the graph (opset 13+)', async () => {
  const { m, b } = model(13, [
    { name: 'a', dataType: F64, shape: ['n', 3] },
    { name: 'c', dataType: F64, shape: [3] },
  ]);
  b.op('Mul', [b.op('Add', ['a', 'c']), 'c'], undefined, 'y');
  m.graph.outputs.push({ name: 'y', dataType: F64, shape: null });
  const dynamic = vjp(m, { of: 'y', wrt: ['a', 'c'] });
  assert.ok(
    dynamic.graph.nodes.some((n) => n.opType === 'NonZero'),
    'dynamic reduction expected',
  );
  const feeds = { a: tensor('float64', [2, 3], [1, 2, 3, 4, 5, 6]), c: tensor('float64', [3], [0.5, -1, 2]) };
  const r = await directionalCheck(m, { of: 'y', wrt: ['a', 'c'], feeds, gradientModel: dynamic });
  assert.ok(r.relError < 1e-7, `rel error ${r.relError}`);
});

test('batched MatMul with a symbolic batch dim differentiates without static shapes', async () => {
  const { m, b } = model(13, [
    { name: 'a', dataType: F64, shape: ['n', 1, 2, 3] },
    { name: 'c', dataType: F64, shape: [2, 3, 2] },
  ]);
  b.op('MatMul', ['a', 'c'], undefined, 'y');
  m.graph.outputs.push({ name: 'y', dataType: F64, shape: null });
  const dynamic = vjp(m, { of: 'y', wrt: ['a', 'c'] });
  const values = (k: number): number[] => Array.from({ length: k }, (_, i) => Math.sin(i + 1));
  const feeds = { a: tensor('float64', [2, 1, 2, 3], values(12)), c: tensor('float64', [2, 3, 2], values(12)) };
  const r = await directionalCheck(m, { of: 'y', wrt: ['a', 'c'], feeds, gradientModel: dynamic });
  assert.ok(r.relError < 1e-7, `rel error ${r.relError}`);
});

test("cotangent 'ones' builds the seed in the graph; alsoOutput exposes forward tensors", async () => {
  const m = fanOutModel();
  const tanh = m.graph.nodes.find((n) => n.opType === 'Tanh')!.outputs[0]!;
  const seeded = vjp(m, { of: 'y', wrt: ['x'], cotangent: 'ones', alsoOutput: [tanh] });
  assert.deepEqual(
    seeded.graph.inputs.map((v) => v.name),
    ['x', 'unused'],
  );
  assert.deepEqual(
    seeded.graph.outputs.map((v) => v.name),
    ['y', tanh, 'd_x'],
  );
  const unused = tensor('float64', [4]);
  const a = await (await openSession(seeded)).run({ x: x0, unused });
  const b = await (
    await openSession(vjp(m, { of: 'y', wrt: ['x'] }))
  ).run({ x: x0, unused, d_y: tensor('float64', [2, 3], [1, 1, 1, 1, 1, 1]) });
  assert.deepEqual([...a['d_x']!.data], [...b['d_x']!.data]);
  assert.deepEqual([...a[tanh]!.dims], [2, 3]);
  assert.throws(() => vjp(m, { of: 'y', wrt: ['x'], alsoOutput: ['nope'] }), /nope.*not a tensor of the model/);
});

test('ranks propagate through intermediate tensors when dims are symbolic', async () => {
  const { m, b } = model(13, [{ name: 'x', dataType: F64, shape: ['n', 3] }]);
  const w = b.constant(F64, [3, 3], [0.5, -0.2, 0.1, 0.3, 0.8, -0.4, 0.2, 0.1, 0.6], 'W');
  const h = b.op('Tanh', [b.op('MatMul', ['x', w])]);
  const t = b.op('Transpose', [b.op('Unsqueeze', [h, b.int64s([0])])]);
  b.op('MatMul', [b.op('Transpose', [t]), w], undefined, 'y');
  m.graph.outputs.push({ name: 'y', dataType: F64, shape: null });
  const dynamic = vjp(m, { of: 'y', wrt: ['x'] });
  const feeds = { x: tensor('float64', [2, 3], [0.1, 0.2, -0.3, 0.4, -0.5, 0.6]) };
  const r = await directionalCheck(m, { of: 'y', wrt: ['x'], feeds, gradientModel: dynamic });
  assert.ok(r.relError < 1e-7, `rel error ${r.relError}`);
});

test('a cast to an integer type stops the gradient even without static shapes', async () => {
  const { m, b } = model(13, [{ name: 'x', dataType: F64, shape: ['n'] }]);
  const rounded = b.op('Cast', [b.op('Cast', ['x'], { to: DataType.int64 })], { to: F64 });
  b.op('Add', [b.op('Mul', ['x', 'x']), rounded], undefined, 'y');
  m.graph.outputs.push({ name: 'y', dataType: F64, shape: null });
  const s = await openSession(vjp(m, { of: 'y', wrt: ['x'] }));
  const out = await s.run({ x: tensor('float64', [2], [1.5, -2.5]), d_y: tensor('float64', [2], [1, 1]) });
  assert.deepEqual([...out['d_x']!.data], [3, -5]);
});

test('Concat and Gather with a symbolic batch dim differentiate without static shapes', async () => {
  const { m, b } = model(17, [
    { name: 'tokens', dataType: F64, shape: ['n', 3, 2] },
    { name: 'cls', dataType: F64, shape: ['n', 1, 2] },
  ]);
  const all = b.op('Concat', ['cls', 'tokens'], { axis: 1 });
  const picked = b.op('Gather', [all, b.constant(DataType.int64, [3], [0, 2, 2], 'idx')], { axis: 1 });
  b.op('Mul', [picked, picked], undefined, 'y');
  m.graph.outputs.push({ name: 'y', dataType: F64, shape: null });
  const dynamic = vjp(m, { of: 'y', wrt: ['tokens', 'cls'] });
  assert.ok(dynamic.graph.nodes.some((n) => n.opType === 'ScatterElements'));
  const values = (k: number): number[] => Array.from({ length: k }, (_, i) => Math.cos(i + 1));
  const feeds = { tokens: tensor('float64', [2, 3, 2], values(12)), cls: tensor('float64', [2, 1, 2], values(4)) };
  const r = await directionalCheck(m, { of: 'y', wrt: ['tokens', 'cls'], feeds, gradientModel: dynamic });
  assert.ok(r.relError < 1e-7, `rel error ${r.relError}`);
  const { m: old, b: ob } = model(13, [{ name: 'x', dataType: F64, shape: ['n', 2] }]);
  ob.op('Gather', ['x', ob.constant(DataType.int64, [], [0], 'i')], { axis: 1 }, 'y');
  old.graph.outputs.push({ name: 'y', dataType: F64, shape: null });
  refused(() => vjp(old, { of: 'y', wrt: ['x'] }), /static shape of 'x' below opset 16/);
});

test('Tile and Einsum with a symbolic batch dim differentiate without static shapes', async () => {
  const { m, b } = model(13, [
    { name: 'q', dataType: F64, shape: ['n', 2, 3] },
    { name: 'k', dataType: F64, shape: [1, 4, 3] },
    { name: 'v', dataType: F64, shape: ['n', 3] },
  ]);
  const scores = b.op('Einsum', ['q', 'k'], { equation: '...id,...jd->...ij' });
  const tiled = b.op('Tile', ['v', b.int64s([1, 2])]);
  const summed = b.op('Einsum', [scores, b.op('Reshape', [tiled, b.int64s([-1, 2, 3])])], { equation: 'bij,bic->bjc' });
  b.op('Einsum', [summed], { equation: 'bjc->jc' }, 'y');
  m.graph.outputs.push({ name: 'y', dataType: F64, shape: null });
  const dynamic = vjp(m, { of: 'y', wrt: ['q', 'k', 'v'] });
  const values = (k: number, s: number): number[] => Array.from({ length: k }, (_, i) => Math.sin(s * i + 1));
  const feeds = {
    q: tensor('float64', [2, 2, 3], values(12, 1)),
    k: tensor('float64', [1, 4, 3], values(12, 2)),
    v: tensor('float64', [2, 3], values(6, 3)),
  };
  const r = await directionalCheck(m, { of: 'y', wrt: ['q', 'k', 'v'], feeds, gradientModel: dynamic });
  assert.ok(r.relError < 1e-7, `rel error ${r.relError}`);
});

test('static shapes from resolveShapes give a graph without dynamic shape ops', async () => {
  const m = fanOutModel(13);
  const shapes = await resolveShapes(m, {});
  const g = vjp(m, { of: 'y', wrt: ['x'], shapes });
  assert.ok(!g.graph.nodes.some((n) => n.opType === 'NonZero'));
});

function refused(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof InputError && pattern.test(err.message));
}

test('unknown output and input names are refused with the names that exist', () => {
  refused(() => vjp(fanOutModel(), { of: 'nope', wrt: ['x'] }), /nope.*no such output.*outputs: y/);
  refused(() => vjp(fanOutModel(), { of: 'y', wrt: ['nope'] }), /nope.*not an input.*inputs: x, unused/);
  refused(() => vjp(fanOutModel(), { of: 'y', wrt: ['W'] }), /W.*not an input/);
  refused(() => vjp(fanOutModel(), { of: 'y', wrt: [] }), /at least one input/);
  refused(() => vjp(fanOutModel(), { of: 'x', wrt: ['x'] }), /x: is both the output and an input/);
});

test('an op without a rule is refused naming the node, op and opset and listing supported ops', () => {
  const { m, b } = model(17, [{ name: 'x', dataType: F64, shape: [2] }]);
  b.add('Atan', ['x'], undefined, { outputs: ['y'], name: 'the_arctangent' });
  m.graph.outputs.push({ name: 'y', dataType: F64, shape: [2] });
  refused(
    () => vjp(m, { of: 'y', wrt: ['x'] }),
    /node 'the_arctangent'.*no gradient rule for op Atan at opset 17\. Supported ops: Abs, Add/,
  );
});

test('every unsupported node on the path is reported at once', () => {
  const { m, b } = model(17, [{ name: 'x', dataType: F64, shape: [2] }]);
  const a = b.add('Atan', ['x'], undefined, { outputs: 1, name: 'first' })[0]!;
  const t = b.add('Tan', [a], undefined, { outputs: 1, name: 'second' })[0]!;
  const f = b.add('FusedThing', [t], undefined, { outputs: 1, name: 'third', domain: 'com.microsoft' })[0]!;
  b.add('Atan', [f], undefined, { outputs: ['y'], name: 'fourth' });
  m.graph.outputs.push({ name: 'y', dataType: F64, shape: [2] });
  const found = unsupportedNodes(m, { of: 'y', wrt: ['x'] });
  assert.deepEqual(
    found.map((u) => [u.node.name, u.reason]),
    [
      ['first', 'no rule'],
      ['second', 'no rule'],
      ['third', 'fused'],
      ['fourth', 'no rule'],
    ],
  );
  refused(
    () => vjp(m, { of: 'y', wrt: ['x'] }),
    /node 'first'.*4 unsupported nodes on the path: Atan ×2, Tan ×1, com\.microsoft::FusedThing ×1/,
  );
  assert.deepEqual(unsupportedNodes(fanOutModel(), { of: 'y', wrt: ['x'] }), []);
});

test('an op without a rule outside the path between y and x is fine', () => {
  const { m, b } = model(17, [{ name: 'x', dataType: F64, shape: [2] }]);
  b.add('Atan', ['x'], undefined, { outputs: ['other'] });
  b.op('Exp', ['x'], undefined, 'y');
  m.graph.outputs.push({ name: 'y', dataType: F64, shape: [2] }, { name: 'other', dataType: F64, shape: [2] });
  assert.ok(vjp(m, { of: 'y', wrt: ['x'] }).graph.nodes.every((n) => n.opType !== 'Atan'));
});

test('runtime-specific fused ops are refused with advice to export without fusions', () => {
  const { m, b } = model(17, [{ name: 'x', dataType: F64, shape: [2] }]);
  b.add('FastGelu', ['x'], undefined, { outputs: ['y'], domain: 'com.microsoft', name: 'fused' });
  m.opsets['com.microsoft'] = 1;
  m.graph.outputs.push({ name: 'y', dataType: F64, shape: [2] });
  refused(
    () => vjp(m, { of: 'y', wrt: ['x'] }),
    /com\.microsoft::FastGelu.*export the model without runtime-specific fusions/,
  );
});

test('calls of model-local functions are refused with advice to inline them', () => {
  const { m, b } = model(17, [{ name: 'x', dataType: F64, shape: [2] }]);
  b.add('Twice', ['x'], undefined, { outputs: ['y'], domain: 'local', name: 'call' });
  m.opsets['local'] = 1;
  m.functions = [
    {
      name: 'Twice',
      domain: 'local',
      input: ['a'],
      output: ['b'],
      node: [{ opType: 'Add', input: ['a', 'a'], output: ['b'] }],
    },
  ];
  m.graph.outputs.push({ name: 'y', dataType: F64, shape: [2] });
  refused(
    () => vjp(m, { of: 'y', wrt: ['x'] }),
    /node 'call'.*model-local function local::Twice; export the model with functions inlined/,
  );
  assert.equal(unsupportedNodes(m, { of: 'y', wrt: ['x'] })[0]?.reason, 'function');
});

test('opsets outside 11–21 are refused', () => {
  const { m, b } = model(10, [{ name: 'x', dataType: F64, shape: [2] }]);
  b.op('Exp', ['x'], undefined, 'y');
  m.graph.outputs.push({ name: 'y', dataType: F64, shape: [2] });
  refused(() => vjp(m, { of: 'y', wrt: ['x'] }), /opset 10 is outside the supported 11–21/);
});

test('interface names that the model already uses are refused', () => {
  const { m, b } = model(17, [{ name: 'x', dataType: F64, shape: [2] }]);
  const e = b.op('Exp', ['x'], undefined, 'd_y');
  b.op('Neg', [e], undefined, 'y');
  m.graph.outputs.push({ name: 'y', dataType: F64, shape: [2] });
  refused(() => vjp(m, { of: 'y', wrt: ['x'] }), /d_y.*already uses this name/);
});

test('a constant training_mode=false Dropout is differentiable, a random one is refused', () => {
  const { m, b } = model(13, [{ name: 'x', dataType: DataType.float32, shape: [2] }]);
  const mode = b.initializer(makeTensor('mode', DataType.bool, [], [1]));
  b.add('Dropout', ['x', '', mode], undefined, { outputs: ['y'], name: 'drop' });
  m.graph.outputs.push({ name: 'y', dataType: DataType.float32, shape: [2] });
  refused(() => vjp(m, { of: 'y', wrt: ['x'] }), /node 'drop'.*training_mode/);
});
