import { keptDims, reduceVersions } from '../reduction.ts';
import type { OpRule } from '../rule.ts';

/** y = log Σ exp(x) over axes: dx = exp(x − y) dy (the softmax of x along the axes, times dy). */
export const reduceLogSumExp: OpRule = {
  op: 'ReduceLogSumExp',
  differentiable: [0],
  versions: reduceVersions(18, (c, r, dy) => {
    const b = c.b;
    const weights = b.op('Exp', [b.op('Sub', [c.input(0), keptDims(c, r, c.output(0))])]);
    return b.op('Mul', [weights, dy]);
  }),
};
