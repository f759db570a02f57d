import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../../../engine/errors.ts';
import {
  DataType,
  GraphBuilder,
  checkTopology,
  decodeModel,
  emptyModel,
  encodeModel,
  saveModel,
  sortTopologically,
} from '../../../engine/onnx/index.ts';
import type { Model } from '../../../engine/onnx/index.ts';
import { onnx } from '../../../engine/onnx/proto.ts';
import { openSession, tensor } from '../../../engine/runtime/index.ts';

/** y = relu(x) * 2 + sigmoid(x), three branches joined. */
function chain(): Model {
  const m = emptyModel(
    'chain',
    17,
    [{ name: 'x', dataType: DataType.float32, shape: [2] }],
    [{ name: 'y', dataType: DataType.float32, shape: [2] }],
  );
  const b = GraphBuilder.forModel(m);
  const r = b.op('Relu', ['x'], undefined, 'r');
  const s = b.op('Sigmoid', ['x'], undefined, 's');
  const d = b.op('Mul', [r, b.scalar(2, DataType.float32)], undefined, 'd');
  b.op('Add', [d, s], undefined, 'y');
  return m;
}

test('a graph with a dangling input is refused before writing, naming the node and the input', () => {
  const m = chain();
  m.graph.nodes[2]!.inputs[0] = '/Resize_5_output_0';
  m.graph.nodes[2]!.name = '/decoder/Mul';
  const dir = mkdtempSync(join(tmpdir(), 'fiberscope-topology-'));
  assert.throws(
    () => saveModel(m, join(dir, 'bad.onnx')),
    (err: unknown) =>
      err instanceof InputError &&
      err.message.includes("node '/decoder/Mul' (Mul)") &&
      err.message.includes("input '/Resize_5_output_0'") &&
      err.message.includes('no node produces it'),
  );
  assert.deepEqual(readdirSync(dir), [], 'nothing is written');
  assert.throws(() => encodeModel(m), /Resize_5_output_0/);
});

test('out-of-order nodes and a missing graph output are named', () => {
  const m = chain();
  m.graph.nodes.reverse();
  assert.throws(() => checkTopology(m.graph), /input 'd' .*produces it later: the nodes are out of order/);
  const n = chain();
  n.graph.outputs.push({ name: 'z', dataType: DataType.float32, shape: [2] });
  assert.throws(() => checkTopology(n.graph), /graph output 'z'/);
});

test('decoding sorts an out-of-order graph (as ONNX Runtime accepts it), keeping sorted ones as they are', async () => {
  const m = chain();
  const sorted = m.graph.nodes.map((n) => n.outputs[0]);
  assert.equal(sortTopologically(m.graph), m.graph.nodes, 'a sorted graph is returned unchanged');
  // Write the nodes reversed, bypassing the check, as another tool might.
  const proto = onnx.ModelProto.decode(encodeModel(m));
  proto.graph!.node!.reverse();
  const back = decodeModel(onnx.ModelProto.encode(proto).finish());
  const order = back.graph.nodes.map((n) => n.outputs[0]);
  for (const n of back.graph.nodes)
    for (const i of n.inputs) if (sorted.includes(i)) assert.ok(order.indexOf(i) < order.indexOf(n.outputs[0]));
  const y = (await (await openSession(back)).run({ x: tensor('float32', [2], [-1, 1]) }))['y']!;
  const expect = [1 / (1 + Math.E), 2 + 1 / (1 + Math.exp(-1))];
  for (let i = 0; i < 2; i++) assert.ok(Math.abs(Number(y.data[i]) - expect[i]!) < 1e-6);
});

test('a cycle is refused, naming a node on it', () => {
  const m = chain();
  m.graph.nodes[0]!.inputs[0] = 'y';
  assert.throws(() => sortTopologically(m.graph), /cycle through this node/);
});
