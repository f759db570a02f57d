import { bytesPerElement, makeTensor, numel } from '../../onnx/ir.ts';
import type { RuleContext, OpRule } from '../rule.ts';
import { adjointWindowAttrs, windowOf } from '../spatial.ts';

/**
 * The weights of the Conv that computes a stride-1 Conv's input gradient: spatially flipped, with
 * input and output channels swapped inside each group ([M, C/g, k…] → [C, M/g, k…]). Precomputed
 * as an initializer when the weights are constant (initializer or Constant node), else emitted as
 * Reshape/Transpose/Slice.
 */
function adjointWeights(c: RuleContext, w: string, group: number): string {
  const [m, cg, ...k] = c.requireShape(w) as [number, number, ...number[]];
  const mg = m / group;
  const values = c.b.graph.initializers.some((t) => t.name === w) ? undefined : c.constValues(w);
  const stored =
    c.b.graph.initializers.find((t) => t.name === w) ??
    (values && makeTensor(w, c.dtype(w), c.requireShape(w), values));
  if (stored) {
    const size = bytesPerElement(stored.dataType);
    const area = numel(k);
    // Where each kernel offset lands when every spatial axis is mirrored.
    const strides = k.map((_, i) => numel(k.slice(i + 1)));
    const mirror = Array.from({ length: area }, (_, p) =>
      k.reduce((q, n, a) => q + (n - 1 - (Math.floor(p / strides[a]!) % n)) * strides[a]!, 0),
    );
    const raw = new Uint8Array(stored.raw.length);
    for (let g = 0; g < group; g++)
      for (let o = 0; o < mg; o++)
        for (let i = 0; i < cg; i++) {
          const from = ((g * mg + o) * cg + i) * area * size;
          const to = ((g * cg + i) * mg + o) * area * size;
          for (let p = 0; p < area; p++) {
            const src = from + p * size;
            const dst = to + mirror[p]! * size;
            for (let byte = 0; byte < size; byte++) raw[dst + byte] = stored.raw[src + byte]!;
          }
        }
    return c.b.initializer({
      name: c.b.fresh(`${w}_adjoint`),
      dataType: stored.dataType,
      dims: [cg * group, mg, ...k],
      raw,
    });
  }
  const grouped = c.b.op('Reshape', [w, c.b.int64s([group, mg, cg, ...k], 'shape')]);
  const swapped = c.b.op('Transpose', [grouped], { perm: [0, 2, 1, ...k.map((_, i) => i + 3)] });
  const merged = c.b.op('Reshape', [swapped, c.b.int64s([group * cg, mg, ...k], 'shape')]);
  const axes = k.map((_, i) => i + 2);
  const big = Number.MAX_SAFE_INTEGER;
  return c.b.op('Slice', [
    merged,
    c.b.int64s(axes.map(() => -1)),
    c.b.int64s(axes.map(() => -big)),
    c.b.int64s(axes),
    c.b.int64s(axes.map(() => -1)),
  ]);
}

/**
 * y = conv(x, w) + b, any spatial rank, groups (depthwise too), strides, dilations, pads and
 * auto_pad. dx is a Conv of dy with the adjoint weights where every stride is 1 and the padding
 * it needs is not negative (about 2× faster than ConvTranspose on onnxruntime), else a
 * ConvTranspose with output_padding restoring x's exact size. db sums dy over batch and space.
 * Weights are constants in fiberscope's graphs; a gradient with respect to them is refused.
 */
export const conv: OpRule = {
  op: 'Conv',
  differentiable: 'all',
  versions: [
    {
      since: 11,
      vjp: (c) => {
        const [x, w, bias] = [c.input(0), c.input(1), c.input(2)];
        const dy = c.dy()!;
        if (c.needs(1)) c.fail('gradients with respect to Conv weights are not supported (weights are constants)');
        const yDims = c.requireShape(c.output(0));
        if (bias && c.needs(2)) c.setDx(2, c.b.reduceSum(dy, [0, ...yDims.slice(2).map((_, i) => i + 2)], false));
        if (!c.needs(0)) return;
        const wDims = c.requireShape(w);
        const kernel = c.ints('kernel_shape') ?? wDims.slice(2);
        const win = windowOf(c, x, kernel);
        const group = c.int('group', 1);
        const xDims = c.requireShape(x).slice(2);
        const outDims = yDims.slice(2);
        // Stride 1: dx = correlation of dy, padded by (k-1)·d - pad at the start, with the adjoint weights.
        const begin = kernel.map((k, i) => (k - 1) * win.dilations[i]! - win.begin[i]!);
        const end = xDims.map((n, i) => n - outDims[i]! + win.begin[i]!);
        if (win.strides.every((s) => s === 1) && [...begin, ...end].every((p) => p >= 0)) {
          const attrs = { dilations: win.dilations, group, pads: [...begin, ...end] };
          c.setDx(0, c.b.op('Conv', [dy, adjointWeights(c, w, group)], attrs));
          return;
        }
        c.setDx(0, c.b.op('ConvTranspose', [dy, w], { group, ...adjointWindowAttrs(win, xDims, outDims) }));
      },
    },
  ],
};
