import { test } from 'node:test';
import assert from 'node:assert/strict';
import { vjp } from '../../../engine/autodiff/vjp.ts';
import { DataType, float } from '../../../engine/onnx/index.ts';
import type { Model } from '../../../engine/onnx/index.ts';
import { closeSessions, openSession, resolveShapes, tensor } from '../../../engine/runtime/index.ts';
import { model } from '../../fixtures/graphs.ts';
import { random } from '../../fixtures/models.ts';
import { relL2 } from '../../helpers/rel-l2.ts';
import { directionalCheck } from './harness.ts';

/**
 * GroupNorm as torch.onnx.export writes it (Reshape to [N, G, M], InstanceNormalization with ones
 * and zeros, Reshape back, Mul by γ, Add β) is differentiated whole at its Add
 * (engine/autodiff/rules/instance-normalization.ts, groupNormVjp), with the forward affine part as
 * one BatchNormalization. Each case is checked against a central difference of the forward model,
 * against the per-node rules (the same model with γ and β fed as inputs, which the pattern cannot
 * read), forward output included, and by the form of the graph (the pattern taken or not).
 */

const F32 = DataType.float32;

interface Case {
  name: string;
  x: number[];
  groups: number;
  /** Dims of γ and β (per channel). */
  affine: number[];
  /** γ and β reach the Mul and Add through Identity nodes (the legacy exporter's shared weights). */
  identity?: boolean;
  /** The norm's own scale (ones in exports): anything else leaves the pattern. */
  normScale?: number;
  opset?: number;
  /** Whether the pattern applies. */
  whole: boolean;
}

const cases: Case[] = [
  { name: '[2, 6, 4, 5], 3 groups, γ [C, 1, 1]', x: [2, 6, 4, 5], groups: 3, affine: [6, 1, 1], whole: true },
  {
    name: 'γ through Identity, [1, C, 1, 1]',
    x: [1, 8, 3, 3],
    groups: 2,
    affine: [1, 8, 1, 1],
    identity: true,
    whole: true,
  },
  { name: 'rank 3 ([N, C, L], attention blocks), γ [C, 1]', x: [2, 4, 7], groups: 4, affine: [4, 1], whole: true },
  { name: 'one channel per group', x: [1, 3, 2, 4], groups: 3, affine: [3, 1, 1], whole: true },
  {
    name: 'norm scale 2 (not an export of GroupNorm)',
    x: [1, 4, 3, 3],
    groups: 2,
    affine: [4, 1, 1],
    normScale: 2,
    whole: false,
  },
  { name: 'opset 16 (no forward statistics)', x: [1, 4, 3, 3], groups: 2, affine: [4, 1, 1], opset: 16, whole: false },
];

function values(seed: number, n: number, lo: number, hi: number): Float32Array {
  const r = random(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * r());
}

function build(k: Case, affineAsInput: boolean): Model {
  const channels = k.x[1]!;
  const inputs = [{ name: 'x', dataType: F32, shape: k.x }];
  if (affineAsInput) {
    inputs.push({ name: 'gamma', dataType: F32, shape: k.affine }, { name: 'beta', dataType: F32, shape: k.affine });
  }
  const { m, b } = model(k.opset ?? 17, inputs, 'group-norm');
  const constant = (name: string, seed: number, lo: number, hi: number): string => {
    const c = b.constant(F32, k.affine, values(seed, channels, lo, hi), name);
    return k.identity ? b.op('Identity', [c]) : c;
  };
  const gamma = affineAsInput ? 'gamma' : constant('gamma', 3, 0.5, 1.5);
  const beta = affineAsInput ? 'beta' : constant('beta', 4, -0.5, 0.5);
  const grouped = b.op('Reshape', ['x', b.int64s([k.x[0]!, k.groups, -1], 'shape')]);
  const norm = b.op(
    'InstanceNormalization',
    [grouped, b.filled(k.normScale ?? 1, F32, [k.groups]), b.filled(0, F32, [k.groups])],
    { epsilon: float(1e-5) },
  );
  const back = b.op('Reshape', [norm, b.op('Shape', ['x'])]);
  const y = b.op('Add', [b.op('Mul', [back, gamma]), beta]);
  // A nonlinearity after it, as in every diffusers block, so that dy varies within a group.
  b.op('Mul', [y, b.op('Sigmoid', [y])], undefined, 'y');
  m.graph.outputs.push({ name: 'y', dataType: F32, shape: null });
  return m;
}

const count = (m: Model, op: string): number => m.graph.nodes.filter((n) => n.opType === op).length;

for (const k of cases) {
  test(`exported GroupNorm, ${k.name}: ${k.whole ? 'differentiated whole' : 'left to the chain rule'}`, async () => {
    const size = k.x.reduce((p, q) => p * q, 1);
    const x = tensor('float32', k.x, values(7, size, -2, 2));
    const m = build(k, false);
    const shapes = await resolveShapes(m, { x: k.x });
    const g = vjp(m, { of: 'y', wrt: ['x'], shapes });
    // Forward and backward affine parts as BatchNormalizations, and the forward Mul by γ gone.
    assert.equal(
      count(g, 'BatchNormalization'),
      k.whole ? 2 : 0,
      k.whole ? 'the pattern was not taken' : 'taken where it must not be',
    );
    if (k.whole) assert.equal(count(g, 'ReduceMean'), 0, 'the chain rule through the norm is still there');

    for (const seed of ['a', 'b']) {
      const c = await directionalCheck(m, {
        of: 'y',
        wrt: ['x'],
        feeds: { x },
        gradientModel: g,
        seed,
        step: 1e-2,
        cotangent: 'difference',
      });
      assert.ok(c.relError <= 1e-3, `seed ${seed}: analytic ${c.analytic} numeric ${c.numeric} rel ${c.relError}`);
    }

    const plain = build(k, true);
    const channels = k.x[1]!;
    const feeds = {
      x,
      gamma: tensor('float32', k.affine, values(3, channels, 0.5, 1.5)),
      beta: tensor('float32', k.affine, values(4, channels, -0.5, 0.5)),
    };
    const pg = vjp(plain, {
      of: 'y',
      wrt: ['x'],
      shapes: await resolveShapes(plain, { x: k.x, gamma: k.affine, beta: k.affine }),
    });
    assert.equal(count(pg, 'BatchNormalization'), 0, 'γ fed as an input must leave the pattern');
    const dy = tensor('float32', k.x, values(9, size, -1, 1));
    const got = await (await openSession(g)).run({ x, d_y: dy });
    const want = await (await openSession(pg)).run({ ...feeds, d_y: dy });
    for (const name of ['d_x', 'y']) {
      const [a, e] = [got[name]!.data as Float32Array, want[name]!.data as Float32Array];
      assert.equal(a.length, e.length, `${name}: size`);
      assert.ok(relL2(a, e) < 1e-5, `${name}: relative difference ${relL2(a, e)}`);
    }
    await closeSessions();
  });
}
