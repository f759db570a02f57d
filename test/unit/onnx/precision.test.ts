import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataType, GraphBuilder, emptyModel, makeTensor, widenFloat16 } from '../../../engine/onnx/index.ts';
import type { Model } from '../../../engine/onnx/index.ts';
import { openSession, tensor } from '../../../engine/runtime/index.ts';

const F16 = DataType.float16;

/** float32 in and out, float16 inside: weights, a Constant, a ConstantOfShape and casts. */
function halfModel(): Model {
  const m = emptyModel(
    'half',
    17,
    [{ name: 'x', dataType: DataType.float32, shape: [2, 3] }],
    [{ name: 'y', dataType: DataType.float32, shape: [2, 3] }],
  );
  m.graph.valueInfo.push({ name: 'h', dataType: F16, shape: [2, 3] });
  const b = GraphBuilder.forModel(m);
  const h = b.op('Cast', ['x'], { to: F16 }, 'h');
  const w = b.constant(F16, [3, 3], [0.5, -1, 0.25, 2, 0.125, -0.5, 1, 1, -1], 'w');
  const bias = b.op('Constant', [], { value: makeTensor('v', F16, [3], [0.1, 0.2, 0.3]) });
  const ones = b.op('ConstantOfShape', [b.op('Shape', ['x'])], { value: makeTensor('v', F16, [1], [1]) });
  const z = b.op('Add', [b.op('Add', [b.op('MatMul', [h, w]), bias]), ones]);
  b.op('Cast', [b.op('Tanh', [z])], { to: DataType.float32 }, 'y');
  return m;
}

test('widenFloat16 turns a float16 model into a float32 one with the same results', async () => {
  const half = halfModel();
  const wide = widenFloat16(half);
  assert.ok(wide.graph.initializers.every((t) => t.dataType === DataType.float32));
  assert.equal(wide.graph.valueInfo[0]!.dataType, DataType.float32);
  assert.ok(
    half.graph.initializers.every((t) => t.dataType === F16),
    'the input model is not changed',
  );
  const feed = { x: tensor('float32', [2, 3], [0.5, -0.25, 1, 0.75, -1, 0.125]) };
  const a = (await (await openSession(half)).run(feed))['y']!.data as Float32Array;
  const b = (await (await openSession(wide)).run(feed))['y']!.data as Float32Array;
  a.forEach((v, i) => assert.ok(Math.abs(v - b[i]!) < 5e-3, `y[${i}] ${v} vs ${b[i]}`));
  assert.ok(
    wide.graph.nodes
      .filter((n) => n.opType === 'Cast')
      .every((n) => n.attributes.every((at) => Number(at.i) === DataType.float32)),
  );
});
