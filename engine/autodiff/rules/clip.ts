import type { OpRule } from '../rule.ts';

/** y = clip(x, min, max) with optional min/max inputs (opset 11+): dx = dy strictly inside the bounds. */
export const clip: OpRule = {
  op: 'Clip',
  differentiable: [0],
  versions: [
    {
      since: 11,
      vjp: (c) => {
        const x = c.input(0);
        const masks: string[] = [];
        if (c.input(1)) masks.push(c.b.op('Greater', [x, c.input(1)]));
        if (c.input(2)) masks.push(c.b.op('Less', [x, c.input(2)]));
        const dy = c.dy()!;
        if (masks.length === 0) return c.setDx(0, dy);
        const inside = masks.length === 2 ? c.b.op('And', masks) : masks[0]!;
        c.setDx(0, c.b.op('Where', [inside, dy, c.scalar(0, x)]));
      },
    },
  ],
};
