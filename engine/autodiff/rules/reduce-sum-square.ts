import { reduceVersions } from '../reduction.ts';
import type { OpRule } from '../rule.ts';

/** y = Σ x² over axes: dx = 2 x dy. */
export const reduceSumSquare: OpRule = {
  op: 'ReduceSumSquare',
  differentiable: [0],
  versions: reduceVersions(18, (c, _r, dy) => {
    const x = c.input(0);
    return c.b.op('Mul', [c.b.op('Mul', [dy, c.scalar(2, x)]), x]);
  }),
};
