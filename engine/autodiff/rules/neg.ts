import type { OpRule } from '../rule.ts';

/** y = -x. */
export const neg: OpRule = {
  op: 'Neg',
  differentiable: 'all',
  versions: [{ since: 6, vjp: (c) => c.setDx(0, c.b.op('Neg', [c.dy()!])) }],
};
