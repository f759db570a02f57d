import type { GraphBuilder } from '../onnx/builder.ts';
import type { RuleContext } from './rule.ts';

/**
 * Emits a Reduce* op in the form the graph's opset expects: axes as an int64 input from opset 13
 * for ReduceSum and from opset 18 for the others, as an attribute before. No axes: every axis.
 */
export function reduce(
  b: GraphBuilder,
  op: string,
  x: string,
  axes: readonly number[] | undefined,
  keepdims: boolean,
): string {
  const k = keepdims ? 1 : 0;
  if (!axes) return b.op(op, [x], { keepdims: k });
  const axesAsInput = b.opset >= (op === 'ReduceSum' ? 13 : 18);
  if (axesAsInput) return b.op(op, [x, b.int64s(axes, 'axes')], { keepdims: k });
  return b.op(op, [x], { axes: [...axes], keepdims: k });
}

/** What a Reduce* node reduces. */
export interface Reduction {
  /** The reduced axes (non-negative when x's rank is known), or undefined for every axis. */
  axes: number[] | undefined;
  keepdims: boolean;
  /**
   * noop_with_empty_axes with no axes given: nothing is reduced, each element is its own group
   * (ONNX Runtime then returns x for Sum/Mean/Max/Min/LogSumExp, |x| for L1/L2, x² for SumSquare).
   */
  identity: boolean;
}

/**
 * Reads a Reduce* node's axes from its attribute or, for `axesAsInput` variants, from its constant
 * second input (exporters always emit constants; a computed axes tensor is refused).
 */
export function readReduction(c: RuleContext, axesAsInput: boolean): Reduction {
  const x = c.input(0);
  let axes: number[] | undefined;
  if (axesAsInput) {
    const name = c.inputCount > 1 ? c.input(1) : '';
    if (name) {
      axes = c.constValues(name) ?? c.fail(`needs constant axes; input '${name}' is computed in the graph`);
    }
  } else {
    axes = c.ints('axes');
  }
  const identity = axesAsInput && (!axes || axes.length === 0) && c.int('noop_with_empty_axes', 0) === 1;
  if (axes && axes.length === 0) axes = undefined;
  const rank = c.shape(x)?.length;
  if (axes && rank !== undefined) axes = axes.map((a) => (a < 0 ? a + rank : a)).sort((p, q) => p - q);
  return { axes, keepdims: c.int('keepdims', 1) === 1, identity };
}

/**
 * A tensor shaped like the reduced output, with the reduced axes put back as size 1, so that it
 * broadcasts against the input (reducing every axis without keepdims gives a scalar, which does).
 */
export function keptDims(c: RuleContext, r: Reduction, t: string): string {
  return r.keepdims || !r.axes ? t : c.b.unsqueeze(t, r.axes);
}

/** Axes from `first` to the last axis of a rank-`rank` tensor. */
export function trailingAxes(first: number, rank: number): number[] {
  return Array.from({ length: rank - first }, (_, i) => first + i);
}

/**
 * The axes from `axis` to the last of tensor x. Without a static rank a negative axis still
 * names them (−k..−1), so only a non-negative axis needs the rank.
 */
export function axesFrom(c: RuleContext, x: string, axis: number): number[] {
  const rank = c.shape(x)?.length;
  if (rank !== undefined) return trailingAxes(normAxis(c, axis, rank), rank);
  if (axis < 0) return trailingAxes(axis, 0);
  return trailingAxes(axis, c.rank(x));
}

/** Normalises a possibly negative axis against a rank, refusing out-of-range values. */
export function normAxis(c: RuleContext, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) c.fail(`axis ${axis} is out of range for rank ${rank}`);
  return a;
}

/**
 * x̂ = (x − mean) / √(var + ε) over `axes` (kept as size 1), and r = 1 / √(var + ε). `known`: a
 * tensor already holding x̂ (a normalisation's own output when its affine part is the identity).
 */
export function standardize(
  c: RuleContext,
  x: string,
  axes: readonly number[],
  epsilon: number,
  known?: string,
): { xhat: string; rstd: string } {
  const b = c.b;
  const centered = b.op('Sub', [x, reduce(b, 'ReduceMean', x, axes, true)]);
  const variance = reduce(b, 'ReduceMean', b.op('Mul', [centered, centered]), axes, true);
  const rstd = b.op('Reciprocal', [b.op('Sqrt', [b.op('Add', [variance, c.scalar(epsilon, x)])])]);
  return { xhat: known ?? b.op('Mul', [centered, rstd]), rstd };
}

/**
 * Input gradient of x̂ = standardize(x) over `axes` given the cotangent g of x̂:
 * dx = r (g − mean(g) − x̂ mean(g x̂)).
 */
export function standardizeVjp(c: RuleContext, g: string, xhat: string, rstd: string, axes: readonly number[]): string {
  const b = c.b;
  const meanG = reduce(b, 'ReduceMean', g, axes, true);
  const meanGx = reduce(b, 'ReduceMean', b.op('Mul', [g, xhat]), axes, true);
  const inner = b.op('Sub', [b.op('Sub', [g, meanG]), b.op('Mul', [xhat, meanGx])]);
  return b.op('Mul', [inner, rstd]);
}

/** Reshapes a per-channel vector (C) to [C, 1, ..., 1] so that it broadcasts over [N, C, ...] of rank `rank`. */
export function perChannel(c: RuleContext, v: string, rank: number): string {
  return c.b.op('Reshape', [v, c.b.int64s([-1, ...Array<number>(Math.max(0, rank - 2)).fill(1)], 'shape')]);
}

/**
 * The opset variants of a Reduce* rule: axes as an attribute, then as a constant input from
 * `axesInputSince` (13 for ReduceSum, 18 for the others, where noop_with_empty_axes appears too).
 * `grad` maps the cotangent, reshaped to broadcast against x, to x's gradient; it must also hold
 * for `identity` reductions, where the cotangent already has x's shape.
 */
export function reduceVersions(
  axesInputSince: number,
  grad: (c: RuleContext, r: Reduction, dy: string) => string,
): { since: number; vjp: (c: RuleContext) => void }[] {
  const run = (axesAsInput: boolean) => (c: RuleContext) => {
    const r = readReduction(c, axesAsInput);
    c.setDx(0, grad(c, r, keptDims(c, r, c.dy()!)));
  };
  return [
    { since: 1, vjp: run(false) },
    { since: axesInputSince, vjp: run(true) },
  ];
}

/** For ReduceMax and ReduceMin: dy goes to the positions equal to the result, split evenly among ties. */
export function extremumGrad(c: RuleContext, r: Reduction, dy: string): string {
  if (r.identity) return dy;
  const b = c.b;
  const x = c.input(0);
  const hit = b.op('Cast', [b.op('Equal', [x, keptDims(c, r, c.output(0))])], { to: c.dtype(x) });
  const ties = reduce(b, 'ReduceSum', hit, r.axes, true);
  return b.op('Mul', [hit, b.op('Div', [dy, ties])]);
}
