import type { OpRule } from '../rule.ts';

/** y = tile(x, repeats): dy viewed as [r0, d0, r1, d1, ...] and summed over the repeat axes. */
export const tile: OpRule = {
  op: 'Tile',
  differentiable: [0],
  versions: [
    {
      since: 6,
      vjp: (c) => {
        const dims = c.requireShape(c.input(0));
        const repeats = c.constValues(c.input(1)) ?? c.requireShape(c.output(0)).map((d, i) => d / (dims[i] ?? 1));
        const split = dims.flatMap((d, i) => [repeats[i] ?? 1, d]);
        const view = c.b.op('Reshape', [c.dy()!, c.b.int64s(split, 'shape')]);
        c.setDx(
          0,
          c.b.reduceSum(
            view,
            dims.map((_, i) => 2 * i),
            false,
          ),
        );
      },
    },
  ],
};
