import type { OpRule } from '../rule.ts';

/** y = cos x: dx = −dy sin x. */
export const cos: OpRule = {
  op: 'Cos',
  differentiable: 'all',
  versions: [
    { since: 7, vjp: (c) => c.setDx(0, c.b.op('Neg', [c.b.op('Mul', [c.dy()!, c.b.op('Sin', [c.input(0)])])])) },
  ],
};
