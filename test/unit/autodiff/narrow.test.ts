import { test } from 'node:test';
import assert from 'node:assert/strict';
import { vjp } from '../../../engine/autodiff/vjp.ts';
import { DataType, GraphBuilder } from '../../../engine/onnx/index.ts';
import type { Model } from '../../../engine/onnx/index.ts';
import { closeSessions, openSession, resolveShapes, tensor } from '../../../engine/runtime/index.ts';
import type { HostTensor } from '../../../engine/runtime/index.ts';
import { SMALL_VIT, vitModel } from '../../fixtures/vit.ts';
import type { VitOptions } from '../../fixtures/vit.ts';

/**
 * Row narrowing (engine/autodiff/narrow.ts): a ViT whose output is one token's features has the
 * nodes that feed only that token computed on it alone, in the forward and the backward. Each case
 * is checked against the same function written so that nothing narrows (the token picked by a
 * MatMul with a one-hot row instead of a Gather or Slice), forward output and input gradient both,
 * and by the form of the graph (the last block's MLP on one row, or nothing narrowed where the
 * selected tensor is also asked for whole).
 */

const SIZES = { ...SMALL_VIT, batch: 2, depth: 2 };
const TOKENS = (SIZES.size / SIZES.patch) ** 2 + 1;

type Pick = 'gather 0' | 'gather -1' | 'slice 0:1' | 'slice 2:3';

/** The ViT fixture with its final token selection (a Gather of index 0 on axis 1) rewritten. */
function withPick(options: VitOptions, pick: Pick | 'one-hot 0' | 'one-hot last' | 'one-hot 2'): Model {
  const m = vitModel({ ...options, sizes: SIZES });
  const g = m.graph;
  const out = g.nodes.find((n) => n.outputs[0] === 'y')!;
  const gather = g.nodes.find((n) => n.outputs[0] === out.inputs[0])!;
  const source = gather.inputs[0]!;
  g.nodes.splice(g.nodes.indexOf(gather), 1);
  const b = new GraphBuilder(g, 17);
  const before = g.nodes.length;
  const type = options.dtype === 'float64' ? DataType.float64 : DataType.float32;
  let picked: string;
  if (pick.startsWith('gather')) {
    picked = b.op('Gather', [source, b.constant(DataType.int64, [], [pick === 'gather 0' ? 0 : -1], 'index')], {
      axis: 1,
    });
  } else if (pick.startsWith('slice')) {
    const [s, e] = pick === 'slice 0:1' ? [0, 1] : [2, 3];
    const row = b.op('Slice', [source, b.int64s([s]), b.int64s([e]), b.int64s([1])]);
    picked = b.op('Reshape', [row, b.int64s([SIZES.batch, SIZES.width])]);
  } else {
    const at = pick === 'one-hot 0' ? 0 : pick === 'one-hot 2' ? 2 : TOKENS - 1;
    const hot = b.constant(
      type,
      [1, TOKENS],
      Array.from({ length: TOKENS }, (_, i) => (i === at ? 1 : 0)),
      'one_hot',
    );
    picked = b.op('Reshape', [b.op('MatMul', [hot, source]), b.int64s([SIZES.batch, SIZES.width])]);
  }
  // The selection goes where the Gather was, before the Identity that writes y.
  const added = g.nodes.splice(before);
  g.nodes.splice(g.nodes.indexOf(out), 0, ...added);
  out.inputs[0] = picked;
  return m;
}

function pixels(type: 'float32' | 'float64'): HostTensor {
  const dims = [SIZES.batch, SIZES.channels, SIZES.size, SIZES.size];
  const n = dims.reduce((p, q) => p * q, 1);
  return tensor(
    type as 'float64',
    dims,
    Array.from({ length: n }, (_, i) => Math.sin(0.9 * i) * 0.8 + 0.1 * Math.cos(3.1 * i)),
  );
}

async function gradientOf(m: Model, x: HostTensor, dy: HostTensor, alsoOutput: string[] = []) {
  const shapes = await resolveShapes(m, { x: x.dims });
  const g = vjp(m, { of: 'y', wrt: ['x'], shapes, alsoOutput });
  const r = await (await openSession(g)).run({ x, d_y: dy });
  return {
    graph: g,
    y: r['y']!.data as Float64Array | Float32Array,
    dx: r['d_x']!.data as Float64Array | Float32Array,
  };
}

function relDiff(a: ArrayLike<number>, e: ArrayLike<number>): number {
  let err = 0;
  let norm = 0;
  for (let i = 0; i < e.length; i++) {
    err += (a[i]! - e[i]!) ** 2;
    norm += e[i]! ** 2;
  }
  assert.ok(norm > 0, 'all-zero reference');
  return Math.sqrt(err / norm);
}

const narrowedOps = (m: Model) => m.graph.nodes.filter((n) => n.name.endsWith('_row')).map((n) => n.opType);

const cases: {
  name: string;
  options: VitOptions;
  pick: Pick;
  reference: 'one-hot 0' | 'one-hot last' | 'one-hot 2';
  tol: number;
}[] = [
  {
    name: 'class token by Gather, float64, tanh GELU, LayerNormalization',
    options: { opset: 17, dtype: 'float64', gelu: 'tanh', decomposedLayerNorm: false },
    pick: 'gather 0',
    reference: 'one-hot 0',
    tol: 1e-12,
  },
  {
    name: 'last token by Gather index -1, float32, erf GELU',
    options: { opset: 17, dtype: 'float32', gelu: 'erf', decomposedLayerNorm: false },
    pick: 'gather -1',
    reference: 'one-hot last',
    tol: 1e-5,
  },
  {
    name: 'class token by Slice 0:1, float64, decomposed LayerNorm',
    options: { opset: 18, dtype: 'float64', gelu: 'tanh', decomposedLayerNorm: true },
    pick: 'slice 0:1',
    reference: 'one-hot 0',
    tol: 1e-12,
  },
  {
    name: 'token 2 by Slice 2:3, float32, opset 21 Gelu op',
    options: { opset: 21, dtype: 'float32', gelu: 'op', decomposedLayerNorm: false },
    pick: 'slice 2:3',
    reference: 'one-hot 2',
    tol: 1e-5,
  },
];

for (const k of cases) {
  test(`row narrowing: ${k.name}`, async () => {
    const x = pixels(k.options.dtype);
    const dy = tensor(
      k.options.dtype as 'float64',
      [SIZES.batch, SIZES.width],
      Array.from({ length: SIZES.batch * SIZES.width }, (_, i) => Math.cos(1.7 * i) + 0.3),
    );
    const got = await gradientOf(withPick(k.options, k.pick), x, dy);
    const want = await gradientOf(withPick(k.options, k.reference), x, dy);
    const ops = narrowedOps(got.graph);
    // The last block's MLP (two MatMuls), its second LayerNorm and the attention Softmax on one row.
    assert.ok(ops.filter((o) => o === 'MatMul').length >= 4, `narrowed: ${ops.join(', ')}`);
    assert.ok(ops.includes('Softmax'), `narrowed: ${ops.join(', ')}`);
    assert.deepEqual(narrowedOps(want.graph), [], 'the one-hot reference must not narrow');
    assert.ok(relDiff(got.y, want.y) <= k.tol, `y: relative difference ${relDiff(got.y, want.y)}`);
    assert.ok(relDiff(got.dx, want.dx) <= k.tol, `dx: relative difference ${relDiff(got.dx, want.dx)}`);
    await closeSessions();
  });
}

test('row narrowing leaves a tensor that is also asked for whole, and still gives the same gradient', async () => {
  const options: VitOptions = { opset: 17, dtype: 'float64', gelu: 'tanh', decomposedLayerNorm: false };
  const m = withPick(options, 'gather 0');
  const out = m.graph.nodes.find((n) => n.outputs[0] === 'y')!;
  const whole = m.graph.nodes.find((n) => n.outputs[0] === out.inputs[0])!.inputs[0]!;
  const x = pixels('float64');
  const dy = tensor(
    'float64',
    [SIZES.batch, SIZES.width],
    Array.from({ length: SIZES.batch * SIZES.width }, (_, i) => Math.sin(0.7 * i) - 0.2),
  );
  const got = await gradientOf(m, x, dy, [whole]);
  assert.deepEqual(narrowedOps(got.graph), [], 'nothing above a tensor that is an output itself narrows');
  const want = await gradientOf(withPick(options, 'one-hot 0'), x, dy);
  assert.ok(relDiff(got.dx, want.dx) <= 1e-12, `dx: relative difference ${relDiff(got.dx, want.dx)}`);
  await closeSessions();
});
