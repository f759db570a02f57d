import type { OpRule } from '../rule.ts';

/** y = erf(x): dx = dy 2/√π exp(-x²). */
export const erf: OpRule = {
  op: 'Erf',
  differentiable: 'all',
  versions: [
    {
      since: 9,
      vjp: (c) => {
        const x = c.input(0);
        const gauss = c.b.op('Exp', [c.b.op('Neg', [c.b.op('Mul', [x, x])])]);
        c.setDx(0, c.b.op('Mul', [c.dy()!, c.b.op('Mul', [gauss, c.scalar(2 / Math.sqrt(Math.PI), x)])]));
      },
    },
  ],
};
