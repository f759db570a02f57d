import { test } from 'node:test';
import assert from 'node:assert/strict';
import { vjp } from '../../../engine/autodiff/vjp.ts';
import { DataType } from '../../../engine/onnx/index.ts';
import type { GraphBuilder, Model } from '../../../engine/onnx/index.ts';
import { resolveShapes, tensor } from '../../../engine/runtime/index.ts';
import { model } from '../../fixtures/graphs.ts';
import { random } from '../../fixtures/models.ts';
import { directionalCheck } from './harness.ts';

/**
 * Activations differentiated whole at their last Mul (engine/autodiff/patterns.ts): the gradient
 * must equal a central difference of the forward model, and the pattern must have been taken
 * (the chain rule through the parts would leave a Sum of the two paths into x), or not taken
 * where a constant differs.
 */

const dims = [2, 3, 5];

function build(
  dataType: number,
  body: (b: GraphBuilder, x: string, k: (v: number) => string) => string | string[],
): Model {
  const { m, b } = model(17, [{ name: 'x', dataType, shape: dims }], 'pattern');
  const outs = body(b, 'x', (v) => b.scalar(v, dataType));
  const list = Array.isArray(outs) ? outs : [outs];
  // One output: the sum of all results, so that every branch carries gradient.
  const y = list.length === 1 ? list[0]! : b.op('Sum', list);
  b.op('Identity', [y], undefined, 'y');
  m.graph.outputs.push({ name: 'y', dataType, shape: dims });
  return m;
}

async function check(m: Model, dataType: number, tolerance: number): Promise<Model> {
  const r = random(11);
  const n = dims.reduce((p, q) => p * q, 1);
  const type = dataType === DataType.float64 ? 'float64' : 'float32';
  const x = tensor(
    type,
    dims,
    Array.from({ length: n }, () => 6 * r()),
  );
  const shapes = await resolveShapes(m, { x: dims });
  const gradientModel = vjp(m, { of: 'y', wrt: ['x'], shapes });
  for (const seed of ['a', 'b']) {
    const c = await directionalCheck(m, {
      of: 'y',
      wrt: ['x'],
      feeds: { x },
      gradientModel,
      seed,
      ...(type === 'float32' ? { step: 1e-2, cotangent: 'difference' as const } : {}),
    });
    assert.ok(c.relError <= tolerance, `seed ${seed}: analytic ${c.analytic} numeric ${c.numeric} rel ${c.relError}`);
  }
  return gradientModel;
}

const ops = (m: Model, op: string): number => m.graph.nodes.filter((n) => n.opType === op).length;
const F64 = DataType.float64;
const F32 = DataType.float32;

test('x·σ(x) in either order is differentiated whole', async () => {
  for (const first of [true, false]) {
    // float32: onnxruntime fuses x·σ(x) of a float64 forward model into a float-only kernel.
    const m = build(F32, (b, x) => {
      const s = b.op('Sigmoid', [x]);
      return b.op('Mul', first ? [x, s] : [s, x]);
    });
    const g = await check(m, F32, 1e-4);
    assert.equal(ops(g, 'Sum'), 0, 'the SiLU pattern was not taken');
  }
});

test('x·σ(x) whose σ(x) also feeds another node: both paths counted', async () => {
  const m = build(F64, (b, x) => {
    const s = b.op('Sigmoid', [x]);
    return [b.op('Mul', [x, s]), b.op('Mul', [s, s])];
  });
  await check(m, F64, 1e-7);
});

test('x·σ(y) of another tensor is the plain product rule', async () => {
  const m = build(F32, (b, x, k) => b.op('Mul', [x, b.op('Sigmoid', [b.op('Mul', [x, k(2)])])]));
  const g = await check(m, F32, 1e-4);
  assert.ok(ops(g, 'Sum') >= 1);
});

const erfGelus: [string, (b: GraphBuilder, x: string, k: (v: number) => string) => string][] = [
  [
    'legacy (x·A)·½, x/√2 as Div',
    (b, x, k) =>
      b.op('Mul', [b.op('Mul', [x, b.op('Add', [b.op('Erf', [b.op('Div', [x, k(Math.SQRT2)])]), k(1)])]), k(0.5)]),
  ],
  [
    'dynamo (x·½)·A, x/√2 as Mul',
    (b, x, k) =>
      b.op('Mul', [b.op('Mul', [x, k(0.5)]), b.op('Add', [k(1), b.op('Erf', [b.op('Mul', [k(Math.SQRT1_2), x])])])]),
  ],
  [
    '½·(A·x)',
    (b, x, k) =>
      b.op('Mul', [k(0.5), b.op('Mul', [b.op('Add', [b.op('Erf', [b.op('Mul', [x, k(Math.SQRT1_2)])]), k(1)]), x])]),
  ],
];

for (const [name, gelu] of erfGelus) {
  test(`erf GELU, ${name}: differentiated whole`, async () => {
    const g = await check(build(F32, gelu), F32, 1e-4);
    assert.equal(ops(g, 'Sum'), 0, 'the GELU pattern was not taken');
    assert.equal(ops(g, 'Exp'), 1);
  });
}

test('erf GELU whose 1 + erf(·) also feeds another node: both paths counted', async () => {
  const m = build(F32, (b, x, k) => {
    const a = b.op('Add', [b.op('Erf', [b.op('Div', [x, k(Math.SQRT2)])]), k(1)]);
    return [b.op('Mul', [b.op('Mul', [x, a]), k(0.5)]), b.op('Mul', [a, a])];
  });
  await check(m, F32, 1e-4);
});

test('a near-GELU (½ → 0.45, √2 → 1.5) is left to the chain rule and still right', async () => {
  for (const [half, root] of [
    [0.45, Math.SQRT2],
    [0.5, 1.5],
  ] as const) {
    const m = build(F32, (b, x, k) =>
      b.op('Mul', [b.op('Mul', [x, b.op('Add', [b.op('Erf', [b.op('Div', [x, k(root)])]), k(1)])]), k(half)]),
    );
    const g = await check(m, F32, 1e-4);
    assert.equal(ops(g, 'Sum'), 1, `½=${half} √2=${root}: taken as a GELU`);
  }
});
