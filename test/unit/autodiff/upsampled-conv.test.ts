import { test } from 'node:test';
import assert from 'node:assert/strict';
import { vjp } from '../../../engine/autodiff/vjp.ts';
import { DataType } from '../../../engine/onnx/index.ts';
import type { GraphBuilder, Model } from '../../../engine/onnx/index.ts';
import type { Attrs } from '../../../engine/onnx/attributes.ts';
import { closeSessions, openSession, resolveShapes, tensor } from '../../../engine/runtime/index.ts';
import { model } from '../../fixtures/graphs.ts';
import { random } from '../../fixtures/models.ts';
import { relL2 } from '../../helpers/rel-l2.ts';
import { directionalCheck } from './harness.ts';

/**
 * A Conv reading a nearest block upsampling (diffusers' Upsample2D: Resize nearest ×2, Conv 3×3)
 * is differentiated as one strided Conv of dy (engine/autodiff/rules/conv.ts, upsampledAdjoint).
 * Every path is linear in x, so central differences with a large step are exact up to rounding.
 * Each case is checked three ways: against a central difference of the forward model, against the
 * gradient the per-node rules give when the weights are a graph input (no folding), and by the
 * form of the graph (the folded Conv taken, or not where the pattern does not hold). Where the
 * gradient graph also computes the forward Conv as phases at the low resolution (phaseForward),
 * its forward output is checked against the plain graph's.
 */

const F32 = DataType.float32;

interface Case {
  name: string;
  x: number[];
  /** Resize scales (one per axis) or sizes. */
  scales?: number[];
  sizes?: number[];
  resize?: Attrs;
  weight: number[];
  conv: Attrs;
  /** Also read the upsampled map elsewhere (a second path into x through the Resize's own rule). */
  alsoRead?: boolean;
  /** Whether the folded form applies. */
  folded: boolean;
  /** Whether the forward Conv is computed as phases at the input's resolution (phaseForward). */
  phased: boolean;
  /** A bias of this many channels. */
  bias?: number;
}

function build(k: Case, weightsAsInput: boolean): Model {
  const inputs = [{ name: 'x', dataType: F32, shape: k.x }];
  if (weightsAsInput) inputs.push({ name: 'w', dataType: F32, shape: k.weight });
  const { m, b } = model(17, inputs, 'upsampled-conv');
  const w = weightsAsInput ? 'w' : b.constant(F32, k.weight, weightsFor(k), 'w');
  const resizeInputs = k.sizes
    ? ['x', '', '', b.int64s(k.sizes, 'sizes')]
    : ['x', '', b.constant(F32, [k.scales!.length], k.scales!, 'scales')];
  const up = b.op('Resize', resizeInputs, { mode: 'nearest', ...k.resize });
  const bias = k.bias ? [b.constant(F32, [k.bias], Array.from({ length: k.bias }, (_, i) => 0.25 * i - 0.5), 'bias')] : [];
  let y = b.op('Conv', [up, w, ...bias], k.conv);
  if (k.alsoRead) y = b.op('Add', [y, b.op('Neg', [b.op('Slice', sliceLike(b, up, k))])]);
  b.op('Identity', [y], undefined, 'y');
  m.graph.outputs.push({ name: 'y', dataType: F32, shape: null });
  return m;
}

/** The upsampled map cut to the Conv's output channels count (first channels), for the second path. */
function sliceLike(b: GraphBuilder, up: string, k: Case): string[] {
  const out = k.weight[0]!;
  return [up, b.int64s([0]), b.int64s([out]), b.int64s([1])];
}

function weightsFor(k: Case): Float32Array {
  const r = random(5);
  const size = k.weight.reduce((p, q) => p * q, 1);
  return Float32Array.from({ length: size }, () => r() - 0.5);
}

const cases: Case[] = [
  {
    name: '×2, 3×3 pad 1 (diffusers Upsample2D)',
    x: [1, 3, 4, 5],
    scales: [1, 1, 2, 2],
    weight: [4, 3, 3, 3],
    conv: { pads: [1, 1, 1, 1] },
    bias: 4,
    folded: true,
    phased: true,
  },
  {
    name: '×2 by sizes, 5×5 pad 2, groups 2',
    x: [2, 4, 3, 3],
    sizes: [2, 4, 6, 6],
    weight: [6, 2, 5, 5],
    conv: { pads: [2, 2, 2, 2], group: 2 },
    folded: true,
    phased: false,
  },
  {
    name: '×3 on height only, 3×2 kernel, asymmetric pads',
    x: [1, 2, 3, 4],
    scales: [1, 1, 3, 1],
    weight: [3, 2, 3, 2],
    conv: { pads: [1, 0, 1, 1] },
    folded: true,
    phased: false,
  },
  {
    name: '×2, depthwise 3×3 (groups = channels), no pad',
    x: [1, 3, 4, 4],
    scales: [1, 1, 2, 2],
    weight: [3, 1, 3, 3],
    conv: { group: 3 },
    folded: true,
    phased: false,
  },
  {
    name: '×2 whose upsampled map is also read by another node',
    x: [1, 3, 4, 4],
    scales: [1, 1, 2, 2],
    weight: [2, 3, 3, 3],
    conv: { pads: [1, 1, 1, 1] },
    alsoRead: true,
    folded: true,
    phased: true,
  },
  {
    name: '1-D ×2, kernel 3 pad 1',
    x: [2, 3, 6],
    scales: [1, 1, 2],
    weight: [4, 3, 3],
    conv: { pads: [1, 1] },
    folded: true,
    phased: false,
  },
  {
    name: '×2, 5×5 pad 2, batch 2 (phases of 3×3 taps)',
    x: [2, 3, 3, 4],
    scales: [1, 1, 2, 2],
    weight: [2, 3, 5, 5],
    conv: { pads: [2, 2, 2, 2] },
    bias: 2,
    folded: true,
    phased: true,
  },
  {
    name: '×3, 3×3 pad 1 (phases of 2, 1 and 2 taps)',
    x: [1, 2, 3, 3],
    scales: [1, 1, 3, 3],
    weight: [3, 2, 3, 3],
    conv: { pads: [1, 1, 1, 1] },
    folded: true,
    phased: true,
  },
  {
    name: '×2, 3×3 padded only at the end',
    x: [1, 2, 3, 4],
    scales: [1, 1, 2, 2],
    weight: [2, 2, 3, 3],
    conv: { pads: [0, 0, 2, 2] },
    folded: true,
    phased: true,
  },
  {
    name: 'not phased: ×2, 3×3 without padding (the output shrinks)',
    x: [1, 2, 3, 3],
    scales: [1, 1, 2, 2],
    weight: [2, 2, 3, 3],
    conv: {},
    folded: true,
    phased: false,
  },
  {
    name: 'not folded: dilations 2',
    x: [1, 2, 4, 4],
    scales: [1, 1, 2, 2],
    weight: [2, 2, 3, 3],
    conv: { pads: [2, 2, 2, 2], dilations: [2, 2] },
    folded: false,
    phased: false,
  },
  {
    name: 'not folded: 3 → 5 nearest (no whole blocks)',
    x: [1, 2, 3, 3],
    sizes: [1, 2, 5, 5],
    weight: [2, 2, 3, 3],
    conv: { pads: [1, 1, 1, 1] },
    folded: false,
    phased: false,
  },
  {
    name: 'not folded: channels upsampled too',
    x: [1, 2, 3, 3],
    scales: [1, 2, 2, 2],
    weight: [2, 4, 3, 3],
    conv: { pads: [1, 1, 1, 1] },
    folded: false,
    phased: false,
  },
];

for (const k of cases) {
  test(`Conv after a nearest upsampling: ${k.name}`, async () => {
    const r = random(9);
    const xSize = k.x.reduce((p, q) => p * q, 1);
    const x = tensor('float32', k.x, Array.from({ length: xSize }, () => 2 * r() - 1));
    const m = build(k, false);
    const shapes = await resolveShapes(m, { x: k.x });
    const g = vjp(m, { of: 'y', wrt: ['x'], shapes });
    const convs = g.graph.nodes.filter((n) => n.opType === 'Conv');
    const strided = convs.filter((n) => n.attributes.some((a) => a.name === 'strides' && a.ints?.some((s) => Number(s) > 1)));
    assert.equal(strided.length > 0, k.folded, k.folded ? 'the folded Conv was not taken' : 'folded where it must not be');
    const phased = g.graph.nodes.some((n) => n.opType === 'Conv' && n.inputs[0] === 'x');
    assert.equal(phased, k.phased, k.phased ? 'the forward Conv was not phased' : 'phased where it must not be');
    if (k.phased && !k.alsoRead) assert.ok(!g.graph.nodes.some((n) => n.opType === 'Resize'), 'the upsampled map is still computed');

    for (const seed of ['a', 'b']) {
      const c = await directionalCheck(m, { of: 'y', wrt: ['x'], feeds: { x }, gradientModel: g, seed, step: 0.5 });
      assert.ok(c.relError <= 1e-4, `seed ${seed}: analytic ${c.analytic} numeric ${c.numeric} rel ${c.relError}`);
    }

    // Against the per-node rules: the same model with its weights fed as an input is not folded.
    const plain = build(k, true);
    const w = tensor('float32', k.weight, weightsFor(k));
    const plainShapes = await resolveShapes(plain, { x: k.x, w: k.weight });
    const pg = vjp(plain, { of: 'y', wrt: ['x'], shapes: plainShapes });
    const yDims = shapes.get('y')!.dims;
    const dy = tensor('float32', yDims, Array.from({ length: yDims.reduce((p, q) => p * q, 1) }, () => 2 * r() - 1));
    const got = await (await openSession(g)).run({ x, d_y: dy });
    const want = await (await openSession(pg)).run({ x, w, d_y: dy });
    for (const name of ['d_x', 'y']) {
      const [a, e] = [got[name]!.data as Float32Array, want[name]!.data as Float32Array];
      assert.equal(a.length, e.length, `${name}: size`);
      assert.ok(relL2(a, e) < 1e-5, `${name}: relative difference ${relL2(a, e)}`);
    }
    await closeSessions();
  });
}
