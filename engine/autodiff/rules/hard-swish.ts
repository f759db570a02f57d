import type { OpRule } from '../rule.ts';

/** y = x · max(0, min(1, x/6 + 1/2)): dx = 0 below -3, dy above 3, dy (x/3 + 1/2) between. */
export const hardSwish: OpRule = {
  op: 'HardSwish',
  differentiable: 'all',
  versions: [
    {
      since: 14,
      vjp: (c) => {
        const x = c.input(0);
        const dy = c.dy()!;
        // Multiplying by 1/3 rather than dividing by 3: Div is the slower kernel on onnxruntime's CPU provider.
        const ramp = c.b.op('Mul', [dy, c.b.op('Add', [c.b.op('Mul', [x, c.scalar(1 / 3, x)]), c.scalar(0.5, x)])]);
        const upper = c.b.op('Where', [c.b.op('Greater', [x, c.scalar(3, x)]), dy, ramp]);
        c.setDx(0, c.b.op('Where', [c.b.op('Less', [x, c.scalar(-3, x)]), c.scalar(0, x), upper]));
      },
    },
  ],
};
