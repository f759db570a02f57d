import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError, NotAvailableError } from '../../../engine/errors.ts';
import { DataType, GraphBuilder, emptyModel } from '../../../engine/onnx/index.ts';
import type { Model } from '../../../engine/onnx/index.ts';
import { openSession, resolveShapes, tensor } from '../../../engine/runtime/index.ts';

function twoInputs(): Model {
  const m = emptyModel(
    'g',
    17,
    [
      { name: 'image', dataType: DataType.float32, shape: ['n', 3, 4, 4] },
      { name: 'scale', dataType: DataType.float64, shape: [1] },
      { name: 'steps', dataType: DataType.int64, shape: [] },
    ],
    [{ name: 'y', dataType: DataType.float32, shape: null }],
  );
  const b = GraphBuilder.forModel(m);
  const s = b.op('Cast', ['scale'], { to: DataType.float32 });
  const t = b.op('Cast', ['steps'], { to: DataType.float32 });
  const pooled = b.op('ReduceMean', [b.op('Mul', ['image', b.op('Add', [s, t])])], { axes: [2, 3], keepdims: 0 });
  b.op('Identity', [pooled], undefined, 'y');
  return m;
}

test('sessions are cached per model bytes and options', async () => {
  const a = await openSession(twoInputs());
  const b = await openSession(twoInputs());
  const c = await openSession(twoInputs(), { intraOpThreads: 1 });
  assert.equal(a, b);
  assert.notEqual(a, c);
  const noArena = await openSession(twoInputs(), { memoryArena: false });
  assert.notEqual(noArena, a);
  assert.equal(await openSession(twoInputs(), { memoryArena: true }), a);
  const feeds = {
    image: tensor('float32', [1, 3, 4, 4], new Float32Array(48).fill(2)),
    scale: tensor('float64', [1], [0.5]),
    steps: tensor('int64', [], [1]),
  };
  assert.deepEqual((await noArena.run(feeds))['y']!.data, (await a.run(feeds))['y']!.data);
});

test('runs with float32, float64 and int64 tensors', async () => {
  const s = await openSession(twoInputs());
  const out = await s.run({
    image: tensor('float32', [2, 3, 4, 4], new Float32Array(96).fill(1)),
    scale: tensor('float64', [1], [0.5]),
    steps: tensor('int64', [], [2]),
  });
  assert.deepEqual(out['y']!.dims, [2, 3]);
  assert.deepEqual([...out['y']!.data], [2.5, 2.5, 2.5, 2.5, 2.5, 2.5]);
});

test('a bad feed lists every missing, unknown and mismatched input with names, dtypes and dims', async () => {
  const s = await openSession(twoInputs());
  await assert.rejects(
    s.run({ image: tensor('float64', [1, 3, 4, 5], new Float64Array(60).fill(7)), extra: tensor('float32', [1]) }),
    (err: unknown) => {
      assert.ok(err instanceof InputError);
      const m = err.message;
      assert.match(m, /missing inputs scale: float64\[1\]; steps: int64\[\]/);
      assert.match(m, /unknown inputs extra/);
      assert.match(m, /image: got float64\[1, 3, 4, 5\], expected float32\[n, 3, 4, 4\]/);
      assert.doesNotMatch(m, /7/, 'no tensor data in messages');
      return true;
    },
  );
  await assert.rejects(
    s.run({ image: tensor('float32', [1, 3, 4, 4]), scale: tensor('float64', [1]), steps: tensor('int64', []) }, [
      'nope',
    ]),
    /unknown outputs nope/,
  );
});

test('an unavailable execution provider is a clear error', async () => {
  await assert.rejects(
    openSession(twoInputs(), { provider: 'cuda' }),
    (err: unknown) => err instanceof NotAvailableError && /'cuda'.*--provider cpu/s.test(err.message),
  );
  await assert.rejects(openSession(twoInputs(), { provider: 'tpu' as never }), /'tpu' is not one of cpu, cuda, webgpu/);
});

test('resolveShapes reports every intermediate dtype and dims for given input dims', async () => {
  const m = twoInputs();
  const shapes = await resolveShapes(m, { image: [5, 3, 4, 4], scale: [1], steps: [] });
  assert.deepEqual(shapes.get('y'), { dataType: DataType.float32, dims: [5, 3] });
  const cast = m.graph.nodes[0]!.outputs[0]!;
  assert.deepEqual(shapes.get(cast), { dataType: DataType.float32, dims: [1] });
  const chunked = await resolveShapes(m, { image: [5, 3, 4, 4], scale: [1], steps: [] }, { outputsPerRun: 2 });
  assert.deepEqual([...chunked.entries()].sort(), [...shapes.entries()].sort());
  await assert.rejects(resolveShapes(m, {}), /image: input has dims \[n, 3, 4, 4\]; give static dims/);
});
