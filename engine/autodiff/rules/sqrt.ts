import type { OpRule } from '../rule.ts';

/** y = sqrt(x): dx = dy / (2 y). */
export const sqrt: OpRule = {
  op: 'Sqrt',
  differentiable: 'all',
  versions: [
    {
      since: 6,
      vjp: (c) => c.setDx(0, c.b.op('Div', [c.b.op('Mul', [c.dy()!, c.scalar(0.5, c.output(0))]), c.output(0)])),
    },
  ],
};
