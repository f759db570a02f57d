import type { OpRule } from '../rule.ts';

/** y = tile(x, repeats): dy viewed as [r0, d0, r1, d1, ...] and summed over the repeat axes. */
export const tile: OpRule = {
  op: 'Tile',
  differentiable: [0],
  versions: [
    {
      since: 6,
      vjp: (c) => {
        const x = c.input(0);
        const rank = c.rank(x);
        const dims = c.shape(x);
        const repeats =
          c.constValues(c.input(1)) ??
          (dims ? c.requireShape(c.output(0)).map((d, i) => d / (dims[i] ?? 1)) : undefined);
        if (!repeats) return c.fail('needs constant repeats or static shapes');
        const b = c.b;
        let view: string;
        if (dims)
          view = b.int64s(
            dims.flatMap((d, i) => [repeats[i] ?? 1, d]),
            'shape',
          );
        else {
          // Runtime dims interleaved with the constant repeats.
          const shape = b.op('Shape', [x]);
          const parts = Array.from({ length: rank }, (_, i) => [
            b.int64s([repeats[i] ?? 1], 'repeat'),
            b.op('Slice', [shape, b.int64s([i], 'starts'), b.int64s([i + 1], 'ends')]),
          ]).flat();
          view = b.op('Concat', parts, { axis: 0 });
        }
        const axes = Array.from({ length: rank }, (_, i) => 2 * i);
        c.setDx(0, b.reduceSum(b.op('Reshape', [c.dy()!, view]), axes, false));
      },
    },
  ],
};
