import type { OpRule } from '../rule.ts';

/** y = a * b: da = dy * b, db = dy * a. */
export const mul: OpRule = {
  op: 'Mul',
  differentiable: 'all',
  broadcasts: true,
  versions: [
    {
      since: 7,
      vjp: (c) => {
        const dy = c.dy()!;
        if (c.needs(0)) c.setDx(0, c.b.op('Mul', [dy, c.input(1)]));
        if (c.needs(1)) c.setDx(1, c.b.op('Mul', [dy, c.input(0)]));
      },
    },
  ],
};
