import { perChannel, standardize, standardizeVjp, trailingAxes } from '../reduction.ts';
import type { OpRule, RuleContext } from '../rule.ts';

/**
 * x of [N, C, ...] is standardised per sample over each of `num_groups` groups of C / G channels
 * (and all space), then scaled and shifted: per group (scale, B of size G) at opset 18, per
 * channel (size C) from opset 21. Gradients work on the grouped view [N, G, C/G · space].
 */
function groupNormVjp(c: RuleContext, perChannelAffine: boolean): void {
  const b = c.b;
  const [x, scale, dy] = [c.input(0), c.input(1), c.dy()!];
  const rank = c.rank(x);
  const groups = c.int('num_groups', 0);
  if (groups < 1) c.fail(`num_groups must be a positive int, got ${groups}`);
  const groupedShape = b.int64s([0, groups, -1], 'shape');
  const grouped = (t: string): string => b.op('Reshape', [t, groupedShape]);
  const { xhat, rstd } = standardize(c, grouped(x), [2], c.float('epsilon', 1e-5));
  const xShape = c.shapeOf(x);
  let g: string | undefined;
  if (perChannelAffine) {
    const axes = [0, ...trailingAxes(2, rank)];
    if (c.needs(0)) g = grouped(b.op('Mul', [dy, perChannel(c, scale, rank)]));
    if (c.needs(1)) c.setDx(1, b.reduceSum(b.op('Mul', [dy, b.op('Reshape', [xhat, xShape])]), axes, false));
    if (c.needs(2)) c.setDx(2, b.reduceSum(dy, axes, false));
  } else {
    const dyGrouped = grouped(dy);
    if (c.needs(0)) g = b.op('Mul', [dyGrouped, b.op('Reshape', [scale, b.int64s([-1, 1], 'shape')])]);
    if (c.needs(1)) c.setDx(1, b.reduceSum(b.op('Mul', [dyGrouped, xhat]), [0, 2], false));
    if (c.needs(2)) c.setDx(2, b.reduceSum(dyGrouped, [0, 2], false));
  }
  if (g) c.setDx(0, b.op('Reshape', [standardizeVjp(c, g, xhat, rstd, [2]), xShape]));
}

export const groupNormalization: OpRule = {
  op: 'GroupNormalization',
  differentiable: 'all',
  versions: [
    { since: 18, vjp: (c) => groupNormVjp(c, false) },
    { since: 21, vjp: (c) => groupNormVjp(c, true) },
  ],
};
