import type { OpRule } from '../rule.ts';

/** y = exp(x): dx = dy * y. */
export const exp: OpRule = {
  op: 'Exp',
  differentiable: 'all',
  versions: [{ since: 6, vjp: (c) => c.setDx(0, c.b.op('Mul', [c.dy()!, c.output(0)])) }],
};
