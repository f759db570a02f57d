import type { OpRule } from '../rule.ts';

/** y = tanh(x): dx = dy (1 - y²). */
export const tanh: OpRule = {
  op: 'Tanh',
  differentiable: 'all',
  versions: [
    {
      since: 6,
      vjp: (c) => {
        const y = c.output(0);
        const slope = c.b.op('Sub', [c.scalar(1, y), c.b.op('Mul', [y, y])]);
        c.setDx(0, c.b.op('Mul', [c.dy()!, slope]));
      },
    },
  ],
};
