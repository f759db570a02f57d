import type { OpRule } from '../rule.ts';

/** y = erf(x): dx = dy 2/√π exp(-x²), the constant folded into the exponent: exp(ln(2/√π) − x²). */
export const erf: OpRule = {
  op: 'Erf',
  differentiable: 'all',
  versions: [
    {
      since: 9,
      vjp: (c) => {
        const x = c.input(0);
        const b = c.b;
        const slope = b.op('Exp', [b.op('Sub', [c.scalar(Math.log(2 / Math.sqrt(Math.PI)), x), b.op('Mul', [x, x])])]);
        c.setDx(0, b.op('Mul', [c.dy()!, slope]));
      },
    },
  ],
};
