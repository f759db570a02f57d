import type { OpRule } from '../rule.ts';

/** y = a - b. */
export const sub: OpRule = {
  op: 'Sub',
  differentiable: 'all',
  broadcasts: true,
  versions: [
    {
      since: 7,
      vjp: (c) => {
        const dy = c.dy()!;
        c.setDx(0, dy);
        if (c.needs(1)) c.setDx(1, c.b.op('Neg', [dy]));
      },
    },
  ],
};
