import type { OpRule } from '../rule.ts';

/** y = where(cond, a, b): da = dy where cond, db = dy elsewhere. */
export const where: OpRule = {
  op: 'Where',
  differentiable: [1, 2],
  broadcasts: true,
  versions: [
    {
      since: 9,
      vjp: (c) => {
        const dy = c.dy()!;
        const cond = c.input(0);
        const zero = c.scalar(0, c.output(0));
        if (c.needs(1)) c.setDx(1, c.b.op('Where', [cond, dy, zero]));
        if (c.needs(2)) c.setDx(2, c.b.op('Where', [cond, zero, dy]));
      },
    },
  ],
};
