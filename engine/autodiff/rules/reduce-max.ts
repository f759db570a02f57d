import { extremumGrad, reduceVersions } from '../reduction.ts';
import type { OpRule } from '../rule.ts';

/**
 * y = max of x over axes: dy goes to the maximal positions. Ties share it evenly (each of k tied
 * positions gets dy / k), so the gradient sums to dy like any subgradient of max.
 */
export const reduceMax: OpRule = {
  op: 'ReduceMax',
  differentiable: [0],
  versions: reduceVersions(18, extremumGrad),
};
