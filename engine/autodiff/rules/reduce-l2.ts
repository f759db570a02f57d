import { keptDims, reduceVersions } from '../reduction.ts';
import type { OpRule } from '../rule.ts';

/** y = √(Σ x²) over axes: dx = x dy / y, and 0 where y = 0 (the minimum-norm subgradient). */
export const reduceL2: OpRule = {
  op: 'ReduceL2',
  differentiable: [0],
  versions: reduceVersions(18, (c, r, dy) => {
    const b = c.b;
    const x = c.input(0);
    const y = keptDims(c, r, c.output(0));
    const zero = c.scalar(0, x);
    const ratio = b.op('Where', [b.op('Equal', [y, zero]), zero, b.op('Div', [dy, y])]);
    return b.op('Mul', [ratio, x]);
  }),
};
