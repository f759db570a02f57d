import type { OpRule } from '../rule.ts';

/** y = sin x: dx = dy cos x. */
export const sin: OpRule = {
  op: 'Sin',
  differentiable: 'all',
  versions: [{ since: 7, vjp: (c) => c.setDx(0, c.b.op('Mul', [c.dy()!, c.b.op('Cos', [c.input(0)])])) }],
};
