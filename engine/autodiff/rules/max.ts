import type { OpRule } from '../rule.ts';

/** y = max(x1, ..., xn) with broadcasting: dy flows to the inputs equal to y (to each of them on ties). */
export const max: OpRule = {
  op: 'Max',
  differentiable: 'all',
  broadcasts: true,
  versions: [
    {
      since: 8,
      vjp: (c) => {
        const y = c.output(0);
        const zero = c.scalar(0, y);
        for (let i = 0; i < c.inputCount; i++) {
          if (c.needs(i)) c.setDx(i, c.b.op('Where', [c.b.op('Equal', [c.input(i), y]), c.dy()!, zero]));
        }
      },
    },
  ],
};
