import { reduceVersions } from '../reduction.ts';
import type { OpRule } from '../rule.ts';

/** y = Σ x over axes: dx = dy broadcast back over the reduced axes. */
export const reduceSum: OpRule = {
  op: 'ReduceSum',
  differentiable: [0],
  versions: reduceVersions(13, (c, _r, dy) => c.b.op('Expand', [dy, c.shapeOf(c.input(0))])),
};
