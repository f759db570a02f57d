import { reduceVersions } from '../reduction.ts';
import type { OpRule } from '../rule.ts';

/** y = Σ |x| over axes: dx = sign(x) dy (0 at x = 0). */
export const reduceL1: OpRule = {
  op: 'ReduceL1',
  differentiable: [0],
  versions: reduceVersions(18, (c, _r, dy) => c.b.op('Mul', [c.b.op('Sign', [c.input(0)]), dy])),
};
