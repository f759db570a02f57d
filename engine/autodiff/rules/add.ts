import type { OpRule } from '../rule.ts';

/** y = a + b: both cotangents pass through unchanged (the driver undoes broadcasting). */
export const add: OpRule = {
  op: 'Add',
  differentiable: 'all',
  broadcasts: true,
  versions: [
    {
      since: 7,
      vjp: (c) => {
        const dy = c.dy()!;
        c.setDx(0, dy);
        c.setDx(1, dy);
      },
    },
  ],
};
