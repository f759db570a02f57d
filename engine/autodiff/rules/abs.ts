import type { OpRule } from '../rule.ts';

/** y = |x|: dx = dy * sign(x) (0 at 0, a subgradient). */
export const abs: OpRule = {
  op: 'Abs',
  differentiable: 'all',
  versions: [{ since: 6, vjp: (c) => c.setDx(0, c.b.op('Mul', [c.dy()!, c.b.op('Sign', [c.input(0)])])) }],
};
