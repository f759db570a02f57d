import type { OpRule } from '../rule.ts';

/** y = max(0, min(1, αx + β)): dx = α dy where 0 < αx + β < 1. */
export const hardSigmoid: OpRule = {
  op: 'HardSigmoid',
  differentiable: 'all',
  versions: [
    {
      since: 6,
      vjp: (c) => {
        const x = c.input(0);
        const alpha = c.float('alpha', 0.2);
        const z = c.b.op('Add', [c.b.op('Mul', [x, c.scalar(alpha, x)]), c.scalar(c.float('beta', 0.5), x)]);
        const inside = c.b.op('And', [c.b.op('Greater', [z, c.scalar(0, x)]), c.b.op('Less', [z, c.scalar(1, x)])]);
        c.setDx(0, c.b.op('Where', [inside, c.b.op('Mul', [c.dy()!, c.scalar(alpha, x)]), c.scalar(0, x)]));
      },
    },
  ],
};
