import type { OpRule } from '../rule.ts';

/** y = a ^ b: da = dy * b * a^(b-1), db = dy * y * ln(a). The exponent may have another type (opset 12+). */
export const pow: OpRule = {
  op: 'Pow',
  differentiable: 'all',
  broadcasts: true,
  versions: [
    {
      since: 7,
      vjp: (c) => {
        const dy = c.dy()!;
        const a = c.input(0);
        const type = c.dtype(a);
        const b = c.dtype(c.input(1)) === type ? c.input(1) : c.b.op('Cast', [c.input(1)], { to: type });
        if (c.needs(0)) {
          const slope = c.b.op('Mul', [b, c.b.op('Pow', [a, c.b.op('Sub', [b, c.scalar(1, a)])])]);
          c.setDx(0, c.b.op('Mul', [dy, slope]));
        }
        if (c.needs(1)) c.setDx(1, c.b.op('Mul', [dy, c.b.op('Mul', [c.output(0), c.b.op('Log', [a])])]));
      },
    },
  ],
};
