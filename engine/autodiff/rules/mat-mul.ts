import { broadcastDims } from '../broadcast.ts';
import type { OpRule, RuleContext } from '../rule.ts';

/** Swaps the last two axes of a rank-r tensor. */
function swapLast(c: RuleContext, x: string, rank: number): string {
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[rank - 1] = rank - 2;
  perm[rank - 2] = rank - 1;
  return c.b.op('Transpose', [x], { perm });
}

/**
 * y = a @ b with numpy semantics (batched, broadcasting batch dims, 1-D operands promoted and
 * their added axis removed): da = dy @ bᵀ, db = aᵀ @ dy, summed over broadcast batch dims.
 */
export const matMul: OpRule = {
  op: 'MatMul',
  differentiable: 'all',
  versions: [
    {
      since: 9,
      vjp: (c) => {
        const [a, b] = [c.input(0), c.input(1)];
        const [rankA, rankB] = [c.rank(a), c.rank(b)];
        let dy = c.dy()!;
        if (rankA === 1 && rankB === 1) {
          if (c.needs(0)) c.setDx(0, c.b.op('Mul', [dy, b]));
          if (c.needs(1)) c.setDx(1, c.b.op('Mul', [dy, a]));
          return;
        }
        const [rankA2, rankB2] = [Math.max(rankA, 2), Math.max(rankB, 2)];
        let [a2, b2] = [a, b];
        if (rankA === 1) {
          a2 = c.b.unsqueeze(a, [0]);
          dy = c.b.unsqueeze(dy, [-2]);
        }
        if (rankB === 1) {
          b2 = c.b.unsqueeze(b, [1]);
          dy = c.b.unsqueeze(dy, [-1]);
        }
        // Batch dims broadcast only when an operand has rank > 2; static shapes give constant axes, else the
        // driver's in-graph reduction sums them.
        const [aDims, bDims] = [c.shape(a), c.shape(b)];
        const batchOf = (d: number[], rank: number): number[] => (rank > 2 ? d.slice(0, -2) : []);
        const batch = aDims && bDims ? broadcastDims(batchOf(aDims, rankA), batchOf(bDims, rankB)) : undefined;
        const reduce = (grad: string, x: string, dims: number[] | undefined, rank: number): string => {
          if (rankA <= 2 && rankB <= 2) return grad;
          return c.reduceToShape(grad, x, batch && dims ? [...batch, ...dims.slice(rank === 1 ? 0 : -2)] : undefined);
        };
        if (c.needs(0)) {
          let da = c.b.op('MatMul', [dy, swapLast(c, b2, rankB2)]);
          if (rankA === 1) da = c.b.squeeze(da, [-2]);
          c.setDx(0, reduce(da, a, aDims, rankA));
        }
        if (c.needs(1)) {
          let db = c.b.op('MatMul', [swapLast(c, a2, rankA2), dy]);
          if (rankB === 1) db = c.b.squeeze(db, [-1]);
          c.setDx(1, reduce(db, b, bDims, rankB));
        }
      },
    },
  ],
};
