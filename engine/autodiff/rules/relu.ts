import type { OpRule } from '../rule.ts';

/** y = max(x, 0): dx = dy where x > 0. */
export const relu: OpRule = {
  op: 'Relu',
  differentiable: 'all',
  versions: [
    {
      since: 6,
      vjp: (c) => {
        const x = c.input(0);
        c.setDx(0, c.b.op('Where', [c.b.op('Greater', [x, c.scalar(0, x)]), c.dy()!, c.scalar(0, x)]));
      },
    },
  ],
};
