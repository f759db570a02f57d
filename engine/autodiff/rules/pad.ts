import type { OpRule, RuleContext } from '../rule.ts';

const END = Number.MAX_SAFE_INTEGER;

/** Sum of dy's slice [from, to) along an axis, reversed when `reverse`. */
function part(c: RuleContext, t: string, axis: number, from: number, to: number, reverse = false): string {
  const b = c.b;
  if (!reverse) return b.op('Slice', [t, b.int64s([from]), b.int64s([to]), b.int64s([axis])]);
  return b.op('Slice', [
    t,
    b.int64s([to - 1]),
    b.int64s([from === 0 ? -END : from - 1]),
    b.int64s([axis]),
    b.int64s([-1]),
  ]);
}

/** Zero-pads t along one axis to place it at [at, at + len) of a length-`size` axis. */
function placed(c: RuleContext, t: string, axis: number, rank: number, at: number, len: number, size: number): string {
  const pads = new Array<number>(2 * rank).fill(0);
  pads[axis] = at;
  pads[rank + axis] = size - at - len;
  return c.b.op('Pad', [t, c.b.int64s(pads, 'pads')]);
}

/**
 * The adjoint of edge, reflect or wrap padding along one axis: the middle of dy is x's own
 * gradient; the padded borders fold back onto the input elements they copied.
 */
function foldAxis(
  c: RuleContext,
  dy: string,
  mode: string,
  axis: number,
  rank: number,
  size: number,
  begin: number,
  end: number,
): string {
  const b = c.b;
  const terms = [part(c, dy, axis, begin, begin + size)];
  const left = begin > 0 ? part(c, dy, axis, 0, begin, mode === 'reflect') : undefined;
  const right = end > 0 ? part(c, dy, axis, begin + size, begin + size + end, mode === 'reflect') : undefined;
  if (mode === 'edge') {
    if (left) terms.push(placed(c, b.reduceSum(left, [axis], true), axis, rank, 0, 1, size));
    if (right) terms.push(placed(c, b.reduceSum(right, [axis], true), axis, rank, size - 1, 1, size));
  } else if (mode === 'reflect') {
    // y[begin - j] = x[j] for j = 1..begin; y[begin + size - 1 + j] = x[size - 1 - j] for j = 1..end.
    if (begin >= size || end >= size) c.fail(`reflect pads must be smaller than the axis (${size})`);
    if (left) terms.push(placed(c, left, axis, rank, 1, begin, size));
    if (right) terms.push(placed(c, right, axis, rank, size - 1 - end, end, size));
  } else {
    // wrap: the left border copies x's last `begin` elements, the right border its first `end`.
    if (begin > size || end > size) c.fail(`wrap pads larger than the axis (${size}) are not supported`);
    if (left) terms.push(placed(c, left, axis, rank, size - begin, begin, size));
    if (right) terms.push(placed(c, right, axis, rank, 0, end, size));
  }
  return terms.length === 1 ? terms[0]! : b.op('Sum', terms);
}

/**
 * y = pad(x, pads, value, axes) (pads as an input, opset 11+; axes from 18). Constant mode: dx
 * is dy padded by the negated pads (cropping what was added, zero-filling what was cropped), and
 * the pad value's gradient is the rest of dy's sum. Edge, reflect and wrap: folded back axis by
 * axis with Slice, ReduceSum and Pad (static, non-negative pads).
 */
export const pad: OpRule = {
  op: 'Pad',
  differentiable: [0, 2],
  versions: [
    {
      since: 11,
      vjp: (c) => {
        const b = c.b;
        const [x, pads, value, axesInput] = [c.input(0), c.input(1), c.input(2), c.input(3)];
        const dy = c.dy()!;
        const mode = c.string('mode', 'constant');
        const rank = c.rank(x);
        if (mode === 'constant') {
          const known = c.constValues(pads);
          const negated = known
            ? b.int64s(
                known.map((p) => -p),
                'pads',
              )
            : b.op('Neg', [pads]);
          const dx = b.op('Pad', axesInput ? [dy, negated, '', axesInput] : [dy, negated]);
          if (c.needs(0)) c.setDx(0, dx);
          if (value && c.needs(2)) {
            const all = Array.from({ length: rank }, (_, i) => i);
            const rest = b.op('Sub', [b.reduceSum(dy, all, false), b.reduceSum(dx, all, false)]);
            c.setDx(2, b.op('Reshape', [rest, c.shapeOf(value)]));
          }
          return;
        }
        if (mode !== 'edge' && mode !== 'reflect' && mode !== 'wrap') c.fail(`mode '${mode}' is not supported`);
        const values = c.constValues(pads) ?? c.fail(`${mode} padding needs constant pads`);
        const axes = axesInput
          ? (c.constValues(axesInput) ?? c.fail('axes must be constant')).map((a) => (a + rank) % rank)
          : Array.from({ length: rank }, (_, i) => i);
        if (values.some((p) => p < 0)) c.fail(`negative pads are not supported in ${mode} mode`);
        const dims = c.requireShape(x);
        let grad = dy;
        axes.forEach((axis, i) => {
          const [begin, end] = [values[i]!, values[axes.length + i]!];
          if (begin > 0 || end > 0) grad = foldAxis(c, grad, mode, axis, rank, dims[axis]!, begin, end);
        });
        c.setDx(0, grad);
      },
    },
  ],
};
