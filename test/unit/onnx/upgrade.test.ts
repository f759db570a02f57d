import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError } from '../../../engine/errors.ts';
import { DataType, GraphBuilder, defaultOpset, floats } from '../../../engine/onnx/index.ts';
import type { Model } from '../../../engine/onnx/index.ts';
import { upgradeOpset } from '../../../engine/onnx/upgrade.ts';
import { openSession, tensor } from '../../../engine/runtime/index.ts';

function model(opset: number): { m: Model; b: GraphBuilder } {
  const m: Model = {
    irVersion: 4,
    opsets: { '': opset },
    producerName: 'test',
    producerVersion: '',
    metadata: {},
    graph: {
      name: 'g',
      nodes: [],
      inputs: [{ name: 'x', dataType: DataType.float32, shape: [1, 2, 3, 4] }],
      outputs: [],
      initializers: [],
      valueInfo: [],
    },
  };
  return { m, b: GraphBuilder.forModel(m) };
}

const x = tensor(
  'float32',
  [1, 2, 3, 4],
  Array.from({ length: 24 }, (_, i) => Math.sin(i) * 3),
);

async function outputs(m: Model): Promise<number[]> {
  const out = await (await openSession(m)).run({ x });
  return Array.from(out['y']!.data as Float32Array);
}

test('an opset-9 model with Clip, Slice, Pad and Upsample computes the same after the upgrade to 11', async () => {
  const { m, b } = model(9);
  const clipped = b.op('Clip', ['x'], { min: { float: -1 }, max: { float: 2 } });
  const sliced = b.op('Slice', [clipped], { starts: [1, 0], ends: [3, -1], axes: [2, 3] });
  const padded = b.op('Pad', [sliced], { pads: [0, 0, 1, 0, 0, 0, 0, 2], value: { float: 0.5 } });
  b.op('Upsample', [padded, b.constant(DataType.float32, [4], [1, 1, 2, 2], 'scales')], { mode: 'nearest' }, 'y');
  m.graph.outputs.push({ name: 'y', dataType: DataType.float32, shape: null });
  const up = upgradeOpset(m);
  assert.equal(defaultOpset(up), 11);
  assert.deepEqual(
    up.graph.nodes.map((n) => n.opType),
    ['Clip', 'Slice', 'Pad', 'Resize'],
  );
  assert.deepEqual(await outputs(up), await outputs(m));
});

test('an opset-7 Upsample with scales as an attribute becomes a Resize with a scales input', async () => {
  const { m, b } = model(7);
  b.op('Upsample', ['x'], { mode: 'nearest', scales: floats([1, 1, 3, 2]) }, 'y');
  m.graph.outputs.push({ name: 'y', dataType: DataType.float32, shape: null });
  const up = upgradeOpset(m);
  assert.equal(up.graph.nodes[0]!.opType, 'Resize');
  assert.deepEqual(await outputs(up), await outputs(m));
});

test('ops whose signature changed and are not adapted are refused by name', () => {
  const { m, b } = model(9);
  b.add('TopK', ['x'], { k: 2 }, { outputs: ['y', 'i'], name: 'top' });
  assert.throws(
    () => upgradeOpset(m),
    (err: unknown) => err instanceof InputError && /node 'top'.*TopK changed between opset 9 and 11/.test(err.message),
  );
});

test('a model at opset 11 or later is returned as it is', () => {
  const { m } = model(13);
  assert.equal(upgradeOpset(m), m);
});
