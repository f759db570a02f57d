import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deriveGradient } from '../../../engine/autodiff/derive.ts';
import { DataType, GraphBuilder, emptyModel } from '../../../engine/onnx/index.ts';
import type { Model } from '../../../engine/onnx/index.ts';
import { openSession, tensor } from '../../../engine/runtime/index.ts';

/** cost = Σ (tanh(x) · target)², a scalar loss, as the sampler's composed graphs end. */
function lossModel(): Model {
  const m = emptyModel(
    'loss',
    13,
    [
      { name: 'x', dataType: DataType.float32, shape: ['n', 3] },
      { name: 'target', dataType: DataType.float32, shape: ['n', 3] },
    ],
    [{ name: 'cost', dataType: DataType.float32, shape: [1] }],
  );
  const b = GraphBuilder.forModel(m);
  const e = b.op('Mul', [b.op('Tanh', ['x'], undefined, 'estimate'), 'target']);
  const sq = b.op('Mul', [e, e]);
  b.op(
    'Reshape',
    [
      b.op('MatMul', [b.op('Reshape', [sq, b.int64s([1, -1])]), b.op('Reshape', [sq, b.int64s([-1, 1])])]),
      b.int64s([1]),
    ],
    undefined,
    'cost',
  );
  return m;
}

test('deriveGradient resolves shapes when input dims are given and derives a loss gradient', async () => {
  const x = [0.1, -0.4, 0.8, 0.3, 0.2, -0.9];
  const target = [1, 2, -1, 0.5, 1, 2];
  for (const inputDims of [{ x: [2, 3], target: [2, 3] }, undefined]) {
    const { model, staticShapes } = await deriveGradient(lossModel(), {
      of: 'cost',
      wrt: ['x'],
      cotangent: 'ones',
      alsoOutput: ['estimate'],
      inputDims,
    });
    assert.equal(staticShapes, inputDims !== undefined);
    assert.deepEqual(
      model.graph.outputs.map((v) => v.name),
      ['cost', 'estimate', 'd_x'],
    );
    const out = await (
      await openSession(model)
    ).run({ x: tensor('float32', [2, 3], x), target: tensor('float32', [2, 3], target) });
    // cost = Σ (e_i²)² with e = tanh(x)·t, so d cost/dx_i = 4 e_i³ t_i (1 − tanh² x_i).
    const expected = x.map((xi, i) => {
      const t = Math.tanh(xi);
      const e = t * target[i]!;
      return 4 * e ** 3 * target[i]! * (1 - t * t);
    });
    Array.from(out['d_x']!.data as Float32Array).forEach((g, i) =>
      assert.ok(Math.abs(g - expected[i]!) < 1e-5, `d_x[${i}] ${g} vs ${expected[i]}`),
    );
  }
});
