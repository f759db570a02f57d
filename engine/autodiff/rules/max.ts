import type { OpRule } from '../rule.ts';

/**
 * y = max(x1, ..., xn) with broadcasting: dy flows to the inputs equal to y, split evenly on ties
 * (as PyTorch does; for two tied inputs it is also what a central difference gives).
 */
export const max: OpRule = {
  op: 'Max',
  differentiable: 'all',
  broadcasts: true,
  versions: [
    {
      since: 8,
      vjp: (c) => {
        const y = c.output(0);
        const type = c.dtype(y);
        const hits = Array.from({ length: c.inputCount }, (_, i) =>
          c.b.op('Cast', [c.b.op('Equal', [c.input(i), y])], { to: type }),
        );
        const share = c.b.op('Div', [c.dy()!, hits.length === 1 ? hits[0]! : c.b.op('Sum', hits)]);
        hits.forEach((hit, i) => {
          if (c.needs(i)) c.setDx(i, c.b.op('Mul', [share, hit]));
        });
      },
    },
  ],
};
