import type { OpRule } from '../rule.ts';

/** y = x1 + ... + xn with broadcasting: each input receives dy. */
export const sum: OpRule = {
  op: 'Sum',
  differentiable: 'all',
  broadcasts: true,
  versions: [
    {
      since: 8,
      vjp: (c) => {
        for (let i = 0; i < c.inputCount; i++) c.setDx(i, c.dy()!);
      },
    },
  ],
};
