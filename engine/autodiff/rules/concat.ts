import type { OpRule } from '../rule.ts';

/** y = concat(x1..xn, axis): dy split back into the inputs' extents along the axis. */
export const concat: OpRule = {
  op: 'Concat',
  differentiable: 'all',
  versions: [
    {
      since: 11,
      vjp: (c) => {
        const rank = c.rank(c.input(0));
        const axis = (c.int('axis', 0) + rank) % rank;
        const sizes = Array.from({ length: c.inputCount }, (_, i) => c.requireShape(c.input(i))[axis] ?? 0);
        const parts = c.b.split(c.dy()!, axis, sizes);
        parts.forEach((p, i) => c.setDx(i, p));
      },
    },
  ],
};
