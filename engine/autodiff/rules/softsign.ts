import type { OpRule } from '../rule.ts';

/** y = x / (1 + |x|): dx = dy / (1 + |x|)². */
export const softsign: OpRule = {
  op: 'Softsign',
  differentiable: 'all',
  versions: [
    {
      since: 1,
      vjp: (c) => {
        const x = c.input(0);
        const d = c.b.op('Add', [c.scalar(1, x), c.b.op('Abs', [x])]);
        c.setDx(0, c.b.op('Div', [c.dy()!, c.b.op('Mul', [d, d])]));
      },
    },
  ],
};
