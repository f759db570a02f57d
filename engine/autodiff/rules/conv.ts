import { bytesPerElement, makeTensor, numel, tensorValues } from '../../onnx/ir.ts';
import type { Tensor } from '../../onnx/ir.ts';
import type { RuleContext, OpRule } from '../rule.ts';
import { adjointWindowAttrs, windowOf } from '../spatial.ts';
import type { Window } from '../spatial.ts';
import { blockUpsampling } from './resize.ts';

type Upsampling = NonNullable<ReturnType<typeof blockUpsampling>>;

/**
 * The weights of the Conv that computes a stride-1 Conv's input gradient: spatially flipped, with
 * input and output channels swapped inside each group ([M, C/g, k…] → [C, M/g, k…]), as a tensor
 * when the weights are constant (initializer or Constant node).
 */
function adjointTensor(c: RuleContext, w: string, group: number): Tensor | undefined {
  const [m, cg, ...k] = c.requireShape(w) as [number, number, ...number[]];
  const mg = m / group;
  const values = c.b.graph.initializers.some((t) => t.name === w) ? undefined : c.constValues(w);
  const stored =
    c.b.graph.initializers.find((t) => t.name === w) ??
    (values && makeTensor(w, c.dtype(w), c.requireShape(w), values));
  if (!stored) return undefined;
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
  return { name: `${w}_adjoint`, dataType: stored.dataType, dims: [cg * group, mg, ...k], raw };
}

/** adjointTensor as an initializer, else the same weights emitted as Reshape/Transpose/Slice. */
function adjointWeights(c: RuleContext, w: string, group: number): string {
  const constant = adjointTensor(c, w, group);
  if (constant) return c.b.initializer({ ...constant, name: c.b.fresh(constant.name) });
  const [m, cg, ...k] = c.requireShape(w) as [number, number, ...number[]];
  const mg = m / group;
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
 * Kernels [.., k…] box-summed over f offsets per spatial axis into [.., (k + f − 1)…]:
 * out[q] = Σ_{0 ≤ d < f} in[q − d].
 */
function boxSummed(t: Tensor, factors: readonly number[]): Tensor {
  const [outer, inner, ...k] = t.dims as [number, number, ...number[]];
  const wide = k.map((n, i) => n + factors[i]! - 1);
  const area = numel(k);
  const wideArea = numel(wide);
  const values = tensorValues(t);
  const out = new Float64Array(outer * inner * wideArea);
  // For each wide position, the kernel positions summed into it.
  const sources: number[][] = [];
  for (let q = 0; q < wideArea; q++) {
    const qi = wide.map((_, a) => Math.floor(q / numel(wide.slice(a + 1))) % wide[a]!);
    const list: number[] = [];
    const walk = (a: number, p: number): void => {
      if (a === k.length) return void list.push(p);
      for (let d = 0; d < factors[a]!; d++) {
        const at = qi[a]! - d;
        if (at >= 0 && at < k[a]!) walk(a + 1, p * k[a]! + at);
      }
    };
    walk(0, 0);
    sources.push(list);
  }
  for (let r = 0; r < outer * inner; r++)
    for (let q = 0; q < wideArea; q++) {
      let sum = 0;
      for (const p of sources[q]!) sum += values[r * area + p]!;
      out[r * wideArea + q] = sum;
    }
  return makeTensor(`${t.name}_upsampled`, t.dataType, [outer, inner, ...wide], out);
}

/**
 * dx of a stride-1 Conv whose input x is a nearest upsampling of u by whole blocks of f (the
 * Resize's adjoint sums each f-block of dx): the sum folds into the Conv, which then reads dy with
 * stride f and a (k + f − 1)-wide kernel, the adjoint weights box-summed over f offsets. For ×2 and
 * 3×3 that is 16 multiply-adds per input position instead of 36, and no dx of the upsampled map.
 * Contributes to u directly (x's other readers, if any, still reach u through the Resize's rule);
 * false where it does not apply (dilations, non-constant weights, a window past dy's end).
 */
function upsampledAdjoint(
  c: RuleContext,
  up: Upsampling | undefined,
  w: string,
  group: number,
  win: Window,
  begin: readonly number[],
  outDims: readonly number[],
): boolean {
  if (win.dilations.some((d) => d !== 1)) return false;
  if (!up || up.factors.every((f) => f === 1) || !c.needsTensor(up.input)) return false;
  const uDims = c.requireShape(up.input).slice(2);
  // The last input position reads dy up to f·(n − 1) − begin + (k + f − 2); pad past dy's end to reach it.
  const end = uDims.map((n, i) => up.factors[i]! * n - begin[i]! + win.kernel[i]! - 1 - outDims[i]!);
  if (end.some((e) => e < 0)) return false;
  const adjoint = adjointTensor(c, w, group);
  if (!adjoint) return false;
  const weights = boxSummed(adjoint, up.factors);
  const grad = c.b.op('Conv', [c.dy()!, c.b.initializer({ ...weights, name: c.b.fresh(weights.name) })], {
    group,
    strides: up.factors,
    pads: [...begin, ...end],
  });
  c.setDxOf(up.input, grad);
  return true;
}

/**
 * The low-resolution reads of one output phase a (0 ≤ a < f) of a stride-1 Conv over a nearest
 * ×f upsampling, along one axis: output f·i + a reads upsampled rows f·i + a − begin + d (d < k),
 * which are input rows i + ⌊(a − begin + d)/f⌋ (zero padding lands on zero padding); the offsets
 * run from lo to hi and tap d adds into kernel position ⌊(a − begin + d)/f⌋ − lo.
 */
function phaseTaps(a: number, f: number, k: number, begin: number): { lo: number; hi: number; at: number[] } {
  const at = Array.from({ length: k }, (_, d) => Math.floor((a - begin + d) / f));
  const lo = at[0]!;
  return { lo, hi: at[k - 1]!, at: at.map((o) => o - lo) };
}

/**
 * The forward of y = conv(upsample_f(u), w), a 2-D group-1 stride-1 Conv keeping the upsampled
 * size (diffusers' Upsample2D, VAE decoders), computed at u's resolution: each of the f² output
 * phases is a Conv of u with the taps that land on the same input row summed (2×2 instead of 3×3
 * for ×2), then interleaved into the upsampled grid. For ×2 and 3×3, 16
 * multiply-adds per input position per channel pair instead of 36, and no upsampled map to read.
 * The gradient graph's forward Conv is restated as that; the model's own node is left as it is.
 */
function phaseForward(
  c: RuleContext,
  x: string,
  w: string,
  group: number,
  win: Window,
  yDims: readonly number[],
  up: Upsampling | undefined,
): void {
  if (!up || group !== 1) return;
  const f = up.factors[0]!;
  if (win.rank !== 2 || f < 2 || up.factors.some((g) => g !== f)) return;
  if (win.dilations.some((d) => d !== 1)) return;
  const xDims = c.requireShape(x).slice(2);
  if (yDims.slice(2).some((n, i) => n !== xDims[i])) return;
  const values = c.constValues(w);
  if (!values) return;
  const [m, cin, kh, kw] = c.requireShape(w) as [number, number, number, number];
  const rows = Array.from({ length: f }, (_, a) => phaseTaps(a, f, kh, win.begin[0]!));
  const cols = Array.from({ length: f }, (_, a) => phaseTaps(a, f, kw, win.begin[1]!));
  // An output phase whose window lies wholly in the padding: leave such a Conv as it is.
  if ([...rows, ...cols].some((t) => t.hi < 0)) return;
  const bias = c.input(2);
  const phases: string[] = [];
  for (const r of rows)
    for (const q of cols) {
      const [ph, pw] = [r.hi - r.lo + 1, q.hi - q.lo + 1];
      const summed = new Float64Array(m * cin * ph * pw);
      for (let oc = 0; oc < m * cin; oc++)
        for (let dy = 0; dy < kh; dy++)
          for (let dx = 0; dx < kw; dx++) {
            const at = (oc * ph + r.at[dy]!) * pw + q.at[dx]!;
            summed[at] = summed[at]! + values[(oc * kh + dy) * kw + dx]!;
          }
      const weights = c.b.initializer(makeTensor(c.b.fresh(`${w}_phase`), c.dtype(w), [m, cin, ph, pw], summed));
      // Rows from lo to hi around each input row: pad −lo before (lo ≤ 0 as begin ≥ 0) and hi after.
      phases.push(
        c.forwardNode('Conv', bias ? [up.input, weights, bias] : [up.input, weights], {
          pads: [-r.lo, -q.lo, r.hi, q.hi],
        }),
      );
    }
  // Interleaved by concatenations over new axes (onnxruntime's DepthToSpace is ~4× slower): the
  // phases of each output row side by side per column, then the f rows of each input row.
  const [n, , h, wd] = yDims as [number, number, number, number];
  const [hn, wn] = [h / f, wd / f];
  const shape = (dims: number[]): string => c.b.int64s(dims, 'shape');
  const rowsOut: string[] = [];
  for (let a = 0; a < f; a++) {
    const columns = phases
      .slice(a * f, (a + 1) * f)
      .map((p) => c.forwardNode('Reshape', [p, shape([n, m, hn, wn, 1])]));
    const side = c.forwardNode('Concat', columns, { axis: 4 });
    rowsOut.push(c.forwardNode('Reshape', [side, shape([n, m, hn, 1, wd])]));
  }
  const stacked = c.forwardNode('Concat', rowsOut, { axis: 3 });
  c.restateForward('Reshape', [stacked, shape([n, m, h, wd])], {}, 1);
}

/**
 * y = conv(x, w) + b, any spatial rank, groups (depthwise too), strides, dilations, pads and
 * auto_pad. dx is a Conv of dy with the adjoint weights where every stride is 1 and the padding
 * it needs is not negative (about 2× faster than ConvTranspose on onnxruntime), folded with the
 * adjoint of a nearest block upsampling that produced x (upsampledAdjoint), else a
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
          // Called from here only: stride 1 is a precondition of both.
          const up = blockUpsampling(c, x);
          phaseForward(c, x, w, group, win, yDims, up);
          if (upsampledAdjoint(c, up, w, group, win, begin, outDims)) return;
          const attrs = { dilations: win.dilations, group, pads: [...begin, ...end] };
          c.setDx(0, c.b.op('Conv', [dy, adjointWeights(c, w, group)], attrs));
          return;
        }
        c.setDx(0, c.b.op('ConvTranspose', [dy, w], { group, ...adjointWindowAttrs(win, xDims, outDims) }));
      },
    },
  ],
};
