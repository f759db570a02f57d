import type { OpRule } from '../rule.ts';

/** y = ln(1 + eˣ): dx = dy σ(x). */
export const softplus: OpRule = {
  op: 'Softplus',
  differentiable: 'all',
  versions: [{ since: 1, vjp: (c) => c.setDx(0, c.b.op('Mul', [c.dy()!, c.b.op('Sigmoid', [c.input(0)])])) }],
};
