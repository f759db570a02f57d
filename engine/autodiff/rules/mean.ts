import type { OpRule } from '../rule.ts';

/** y = (x1 + ... + xn) / n with broadcasting: each input receives dy / n. */
export const mean: OpRule = {
  op: 'Mean',
  differentiable: 'all',
  broadcasts: true,
  versions: [
    {
      since: 8,
      vjp: (c) => {
        const share = c.b.op('Mul', [c.dy()!, c.scalar(1 / c.inputCount, c.output(0))]);
        for (let i = 0; i < c.inputCount; i++) c.setDx(i, share);
      },
    },
  ],
};
