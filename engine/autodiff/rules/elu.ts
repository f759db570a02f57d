import type { OpRule } from '../rule.ts';

/** y = x (x > 0) or α(eˣ − 1): dx = dy, or dy (y + α) below 0. */
export const elu: OpRule = {
  op: 'Elu',
  differentiable: 'all',
  versions: [
    {
      since: 6,
      vjp: (c) => {
        const [x, y] = [c.input(0), c.output(0)];
        const dy = c.dy()!;
        const below = c.b.op('Mul', [dy, c.b.op('Add', [y, c.scalar(c.float('alpha', 1), x)])]);
        c.setDx(0, c.b.op('Where', [c.b.op('Greater', [x, c.scalar(0, x)]), dy, below]));
      },
    },
  ],
};
