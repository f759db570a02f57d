import type { OpRule } from './rule.ts';

/**
 * The rule of an elementwise selection over n broadcast inputs (Max, Min): y equals one of the
 * inputs at every position, so dy flows to the inputs equal to y, split evenly on ties (as PyTorch
 * does; for two tied inputs it is also what a central difference gives).
 */
export function selectionRule(op: 'Max' | 'Min'): OpRule {
  return {
    op,
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
}
