import type { OpRule } from '../rule.ts';

/** y = σ(x): dx = dy y (1 - y). */
export const sigmoid: OpRule = {
  op: 'Sigmoid',
  differentiable: 'all',
  versions: [
    {
      since: 6,
      vjp: (c) => {
        const y = c.output(0);
        const slope = c.b.op('Mul', [y, c.b.op('Sub', [c.scalar(1, y), y])]);
        c.setDx(0, c.b.op('Mul', [c.dy()!, slope]));
      },
    },
  ],
};
