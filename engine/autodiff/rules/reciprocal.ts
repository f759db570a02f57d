import type { OpRule } from '../rule.ts';

/** y = 1/x: dx = -dy * y². */
export const reciprocal: OpRule = {
  op: 'Reciprocal',
  differentiable: 'all',
  versions: [
    {
      since: 6,
      vjp: (c) => {
        const y = c.output(0);
        c.setDx(0, c.b.op('Neg', [c.b.op('Mul', [c.dy()!, c.b.op('Mul', [y, y])])]));
      },
    },
  ],
};
