import type { OpRule } from '../rule.ts';

/** y = mean of x over its spatial axes (kept as size 1): dx = dy / (spatial size), broadcast back over space. */
export const globalAveragePool: OpRule = {
  op: 'GlobalAveragePool',
  differentiable: [0],
  versions: [
    {
      since: 1,
      vjp: (c) => {
        const x = c.input(0);
        const area = c
          .requireShape(x)
          .slice(2)
          .reduce((a, d) => a * d, 1);
        const scaled = c.b.op('Mul', [c.dy()!, c.scalar(1 / area, x)]);
        c.setDx(0, c.b.op('Expand', [scaled, c.shapeOf(x)]));
      },
    },
  ],
};
