import { extremumGrad, reduceVersions } from '../reduction.ts';
import type { OpRule } from '../rule.ts';

/** y = min of x over axes: dy goes to the minimal positions, shared evenly among ties (as ReduceMax). */
export const reduceMin: OpRule = {
  op: 'ReduceMin',
  differentiable: [0],
  versions: reduceVersions(18, extremumGrad),
};
