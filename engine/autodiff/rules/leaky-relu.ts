import type { OpRule } from '../rule.ts';

/** y = x (x > 0) or alpha x: dx = dy or alpha dy. */
export const leakyRelu: OpRule = {
  op: 'LeakyRelu',
  differentiable: 'all',
  versions: [
    {
      since: 6,
      vjp: (c) => {
        const x = c.input(0);
        const dy = c.dy()!;
        const scaled = c.b.op('Mul', [dy, c.scalar(c.float('alpha', 0.01), x)]);
        c.setDx(0, c.b.op('Where', [c.b.op('Greater', [x, c.scalar(0, x)]), dy, scaled]));
      },
    },
  ],
};
