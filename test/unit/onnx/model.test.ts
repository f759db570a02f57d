import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../../../engine/errors.ts';
import {
  DataType,
  GraphBuilder,
  attrFloat,
  attrInt,
  attrInts,
  attrString,
  decodeModel,
  emptyModel,
  encodeModel,
  float,
  floatToHalf,
  loadModel,
  makeTensor,
  saveModel,
  tensorValues,
} from '../../../engine/onnx/index.ts';
import type { Model } from '../../../engine/onnx/index.ts';
import { onnx } from '../../../engine/onnx/proto.ts';
import { openSession, tensor } from '../../../engine/runtime/index.ts';

function affine(opset = 17): Model {
  const m: Model = {
    ...emptyModel(
      'affine',
      opset,
      [{ name: 'x', dataType: DataType.float32, shape: ['batch', 4] }],
      [{ name: 'y', dataType: DataType.float32, shape: ['batch', 4] }],
    ),
    producerVersion: '1',
    metadata: { purpose: 'test' },
  };
  const b = GraphBuilder.forModel(m);
  const w = b.constant(
    DataType.float32,
    [4, 4],
    Array.from({ length: 16 }, (_, i) => (i % 5 === 0 ? 2 : 0)),
    'weight',
  );
  const h = b.op('Gemm', ['x', w, b.constant(DataType.float32, [4], [1, 1, 1, 1], 'bias')], {
    alpha: float(0.5),
    transB: 1,
  });
  b.op('LeakyRelu', [h], { alpha: float(0.25) }, 'y');
  return m;
}

const tmp = (): string => mkdtempSync(join(tmpdir(), 'fiberscope-onnx-'));

test('encode/decode keeps graph, attributes, initializer bytes and metadata', () => {
  const m = affine();
  const back = decodeModel(encodeModel(m));
  assert.deepEqual(back.opsets, { '': 17 });
  assert.equal(back.metadata['purpose'], 'test');
  assert.deepEqual(back.graph.inputs[0], { name: 'x', dataType: DataType.float32, shape: ['batch', 4] });
  const gemm = back.graph.nodes.find((n) => n.opType === 'Gemm')!;
  assert.equal(attrFloat(gemm, 'alpha'), 0.5);
  assert.equal(attrInt(gemm, 'transB'), 1);
  assert.equal(attrInt(gemm, 'transA', 0), 0);
  const w = back.graph.initializers.find((t) => t.name === 'weight')!;
  assert.deepEqual(tensorValues(w), tensorValues(m.graph.initializers.find((t) => t.name === 'weight')!));
});

test('initializers given as typed fields are read as raw bytes', () => {
  const bytes = onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'g',
      node: [{ opType: 'Add', input: ['x', 'c'], output: ['y'] }],
      input: [{ name: 'x', type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 2 }] } } } }],
      output: [{ name: 'y', type: { tensorType: { elemType: 1 } } }],
      initializer: [
        { name: 'c', dataType: 1, dims: [2], floatData: [1.5, -2] },
        { name: 'k', dataType: 7, dims: [2], int64Data: [3, -4] },
      ],
    },
  }).finish();
  const m = decodeModel(bytes);
  assert.deepEqual(tensorValues(m.graph.initializers[0]!), [1.5, -2]);
  assert.deepEqual(tensorValues(m.graph.initializers[1]!), [3, -4]);
});

test('external data: saved beside the model at aligned offsets, loaded back, runnable', async () => {
  const dir = tmp();
  const m = affine();
  saveModel(m, join(dir, 'affine.onnx'), { externalData: { location: 'affine.data', threshold: 32 } });
  assert.ok(statSync(join(dir, 'affine.data')).size >= 64);
  const back = loadModel(join(dir, 'affine.onnx'));
  const w = back.graph.initializers.find((t) => t.name === 'weight')!;
  assert.deepEqual(tensorValues(w), tensorValues(m.graph.initializers.find((t) => t.name === 'weight')!));
  const s = await openSession(back);
  const out = await s.run({ x: tensor('float32', [1, 4], [1, -1, 2, 0]) });
  // y = leakyrelu(0.5 * (2x) + 1) = leakyrelu(x + 1)
  assert.deepEqual([...out['y']!.data], [2, 0, 3, 1]);
});

test('external data that is missing or escapes the model folder is refused', () => {
  const dir = tmp();
  saveModel(affine(), join(dir, 'm.onnx'), { externalData: { location: 'm.data', threshold: 32 } });
  const bytes = readFileSync(join(dir, 'm.onnx'));
  assert.throws(() => decodeModel(bytes), /load the model from a file path/);
  const other = tmp();
  writeFileSync(join(other, 'm.onnx'), bytes);
  assert.throws(
    () => loadModel(join(other, 'm.onnx')),
    (e: unknown) => e instanceof InputError && /cannot read external data file 'm.data'/.test(e.message),
  );
  assert.throws(
    () => saveModel(affine(), join(dir, 'n.onnx'), { externalData: { location: '../n.data' } }),
    InputError,
  );
});

test('truncated and non-ONNX files are refused as input errors', () => {
  const dir = tmp();
  const good = encodeModel(affine());
  writeFileSync(join(dir, 'cut.onnx'), good.subarray(0, Math.floor(good.length / 2)));
  writeFileSync(join(dir, 'text.onnx'), 'this is not a model\n');
  assert.throws(
    () => loadModel(join(dir, 'cut.onnx')),
    (e: unknown) => e instanceof InputError && e.input.endsWith('cut.onnx'),
  );
  assert.throws(() => loadModel(join(dir, 'text.onnx')), InputError);
  assert.throws(() => loadModel(join(dir, 'absent.onnx')), /cannot read the model file/);
});

test('the builder makes fresh names and emits axes as the opset expects', () => {
  for (const [opset, asInput] of [
    [11, false],
    [13, true],
  ] as const) {
    const m = affine(opset);
    const b = GraphBuilder.forModel(m);
    assert.notEqual(b.fresh('weight'), 'weight');
    const r = b.reduceSum('y', [1], false);
    const node = m.graph.nodes.at(-1)!;
    assert.equal(node.outputs[0], r);
    assert.equal(node.inputs.length, asInput ? 2 : 1);
    assert.deepEqual(attrInts(node, 'axes'), asInput ? undefined : [1]);
  }
  for (const [opset, asInput] of [
    [17, false],
    [18, true],
  ] as const) {
    const m = affine(opset);
    GraphBuilder.forModel(m).reduce('ReduceMean', 'y', [0], true);
    const node = m.graph.nodes.at(-1)!;
    assert.equal(node.inputs.length, asInput ? 2 : 1, `ReduceMean at opset ${opset}`);
  }
  const m = affine();
  const b = GraphBuilder.forModel(m);
  assert.throws(() => b.op('LeakyRelu', ['x'], { alpha: 0.2 }), /not an int; wrap floats with float\(\)/);
  b.op('Cast', ['x'], { to: DataType.float64, name: 'tag' });
  assert.equal(attrString(m.graph.nodes.at(-1)!, 'name'), 'tag');
  assert.equal(b.scalar(1, DataType.float32), b.scalar(1, DataType.float32));
});

test('float16 constants round to nearest even and read back', () => {
  const values = [0, -0, 1, -2.5, 65504, 1e-7, 6.1035e-5, 0.1, 3.14159, 70000];
  const t = makeTensor('h', DataType.float16, [values.length], values);
  const back = tensorValues(t);
  assert.deepEqual(back.slice(0, 5), [0, -0, 1, -2.5, 65504]);
  assert.equal(back[5], 1.1920928955078125e-7); // subnormal: 2 × 2⁻²⁴
  assert.ok(Math.abs(back[6]! - 6.1035e-5) < 1e-8);
  assert.equal(back[7], 0.0999755859375);
  assert.equal(back[8], 3.140625);
  assert.equal(back[9], Infinity);
  assert.equal(floatToHalf(1 + 2 ** -11), 0x3c00, 'a tie rounds to even');
  assert.equal(floatToHalf(1 + 3 * 2 ** -11), 0x3c02);
});

test('float16 encoding agrees with onnxruntime casts', async () => {
  const m = affine();
  m.graph.nodes = [];
  m.graph.initializers = [];
  m.graph.inputs = [{ name: 'x', dataType: DataType.float32, shape: [64] }];
  m.graph.outputs = [{ name: 'y', dataType: DataType.float32, shape: [64] }];
  const b = GraphBuilder.forModel(m);
  b.op('Cast', [b.op('Cast', ['x'], { to: DataType.float16 })], { to: DataType.float32 }, 'y');
  const values = Array.from({ length: 64 }, (_, i) => Math.sinh(i / 4 - 8) * 10 ** ((i % 7) - 4));
  const viaOrt = (await (await openSession(m)).run({ x: tensor('float32', [64], values) }))['y']!.data;
  const ours = tensorValues(makeTensor('h', DataType.float16, [64], Array.from(Float32Array.from(values))));
  assert.deepEqual(ours, Array.from(viaOrt as Float32Array));
});

test('model-local functions survive decode and encode, and the model still runs', async () => {
  const bytes = onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [
      { domain: '', version: 17 },
      { domain: 'local', version: 1 },
    ],
    functions: [
      {
        name: 'Twice',
        domain: 'local',
        input: ['a'],
        output: ['b'],
        opsetImport: [{ domain: '', version: 17 }],
        node: [{ opType: 'Add', input: ['a', 'a'], output: ['b'] }],
      },
    ],
    graph: {
      name: 'g',
      node: [{ opType: 'Twice', domain: 'local', input: ['x'], output: ['y'] }],
      input: [{ name: 'x', type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 2 }] } } } }],
      output: [{ name: 'y', type: { tensorType: { elemType: 1 } } }],
    },
  }).finish();
  const m = decodeModel(encodeModel(decodeModel(bytes)));
  assert.equal(m.functions?.[0]?.name, 'Twice');
  const out = await (await openSession(m)).run({ x: tensor('float32', [2], [1, 2]) });
  assert.deepEqual([...out['y']!.data], [2, 4]);
});
