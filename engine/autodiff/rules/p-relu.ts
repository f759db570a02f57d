import type { OpRule } from '../rule.ts';

/** y = x (x > 0) or slope·x, slope broadcast to x: dx = dy or slope·dy; dslope = dy·x where x ≤ 0. */
export const pRelu: OpRule = {
  op: 'PRelu',
  differentiable: 'all',
  broadcasts: true,
  versions: [
    {
      since: 9,
      vjp: (c) => {
        const [x, slope] = [c.input(0), c.input(1)];
        const dy = c.dy()!;
        const positive = c.b.op('Greater', [x, c.scalar(0, x)]);
        const zero = c.scalar(0, x);
        if (c.needs(0)) c.setDx(0, c.b.op('Where', [positive, dy, c.b.op('Mul', [dy, slope])]));
        if (c.needs(1)) c.setDx(1, c.b.op('Where', [positive, zero, c.b.op('Mul', [dy, x])]));
      },
    },
  ],
};
