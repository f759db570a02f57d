import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError } from '../../../engine/errors.ts';
import { DataType, GraphBuilder, connect, emptyModel, prefixNames, pruneModel } from '../../../engine/onnx/index.ts';
import type { Model } from '../../../engine/onnx/index.ts';
import { openSession, tensor } from '../../../engine/runtime/index.ts';

function unary(op: string, constant: number, opset = 17): Model {
  const m = emptyModel(
    op,
    opset,
    [{ name: 'in', dataType: DataType.float32, shape: [3] }],
    [{ name: 'out', dataType: DataType.float32, shape: [3] }],
  );
  const b = GraphBuilder.forModel(m);
  b.op(op, ['in', b.constant(DataType.float32, [], [constant], 'k')], undefined, 'out');
  return m;
}

test('connect feeds one model into another; the result runs', async () => {
  const double = prefixNames(unary('Mul', 2), 'a/');
  const shift = prefixNames(unary('Add', 1), 'b/');
  const composed = connect(double, shift, { 'b/in': 'a/out' }, { outputs: ['b/out', 'a/out'] });
  assert.deepEqual(
    composed.graph.inputs.map((v) => v.name),
    ['a/in'],
  );
  const s = await openSession(composed);
  const out = await s.run({ 'a/in': tensor('float32', [3], [1, 2, 3]) });
  assert.deepEqual([...out['b/out']!.data], [3, 5, 7]);
  assert.deepEqual([...out['a/out']!.data], [2, 4, 6]);
});

test('clashing names, unknown links and differing opsets are refused', () => {
  const a = unary('Mul', 2);
  assert.throws(
    () => connect(a, unary('Add', 1), { in: 'out' }),
    (e: unknown) => e instanceof InputError && /both composed graphs use this tensor name/.test(e.message),
  );
  assert.throws(
    () => connect(a, prefixNames(unary('Add', 1), 'b/'), { nope: 'out' }),
    /not an input of the second graph/,
  );
  assert.throws(
    () => connect(a, prefixNames(unary('Add', 1), 'b/'), { 'b/in': 'nope' }),
    /not a tensor of the first graph/,
  );
  assert.throws(() => connect(a, prefixNames(unary('Add', 1, 13), 'b/'), { 'b/in': 'out' }), /opset 17 and 13/);
});

test("opsets: 'upgrade' composes models exported at different opsets", async () => {
  const first = prefixNames(unary('Mul', 2, 11), 'a/');
  const m = first.graph;
  const b = GraphBuilder.forModel(first);
  // An op whose form changed at 13: the first model's Unsqueeze takes axes as an attribute.
  b.op('Unsqueeze', ['a/out'], { axes: [0] }, 'a/wide');
  m.outputs = [{ name: 'a/wide', dataType: DataType.float32, shape: [1, 3] }];
  const second = prefixNames(unary('Add', 1, 17), 'b/');
  second.graph.inputs[0]!.shape = [1, 3];
  const composed = connect(first, second, { 'b/in': 'a/wide' }, { opsets: 'upgrade' });
  assert.equal(composed.opsets[''], 17);
  const out = await (await openSession(composed)).run({ 'a/in': tensor('float32', [3], [1, 2, 3]) });
  assert.deepEqual([...out['b/out']!.data], [3, 5, 7]);
});

test('shared initializers merge when identical and are refused when they differ', () => {
  const a = prefixNames(unary('Mul', 2), 'a/', ['k']);
  const same = prefixNames(unary('Add', 2), 'b/', ['k']);
  const differ = prefixNames(unary('Add', 3), 'b/', ['k']);
  assert.equal(connect(a, same, { 'b/in': 'a/out' }).graph.initializers.length, 1);
  assert.throws(
    () => connect(a, differ, { 'b/in': 'a/out' }),
    (e: unknown) => e instanceof InputError && e.input === 'k',
  );
});

test('pruning keeps only what the chosen outputs need', () => {
  const composed = connect(prefixNames(unary('Mul', 2), 'a/'), prefixNames(unary('Add', 1), 'b/'), { 'b/in': 'a/out' });
  const pruned = pruneModel(composed, { outputs: ['a/out'] });
  assert.deepEqual(
    pruned.graph.nodes.map((n) => n.opType),
    ['Mul'],
  );
  assert.deepEqual(
    pruned.graph.initializers.map((t) => t.name),
    ['a/k'],
  );
});
