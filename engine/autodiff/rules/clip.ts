import type { OpRule } from '../rule.ts';

/**
 * y = clip(x, min, max) with optional min/max inputs (opset 11+): dx = dy where the clip leaves x
 * unchanged (bounds included, as PyTorch's clamp does), found by comparing y with x: one comparison
 * instead of one per bound and their conjunction.
 */
export const clip: OpRule = {
  op: 'Clip',
  differentiable: [0],
  versions: [
    {
      since: 11,
      vjp: (c) => {
        const x = c.input(0);
        const dy = c.dy()!;
        if (!c.input(1) && !c.input(2)) return c.setDx(0, dy);
        c.setDx(0, c.b.op('Where', [c.b.op('Equal', [c.output(0), x]), dy, c.scalar(0, x)]));
      },
    },
  ],
};
