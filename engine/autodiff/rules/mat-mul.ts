import type { OpRule, RuleContext } from '../rule.ts';

/** Swaps the last two axes of a rank-r tensor. */
function swapLast(c: RuleContext, x: string, rank: number): string {
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[rank - 1] = rank - 2;
  perm[rank - 2] = rank - 1;
  return c.b.op('Transpose', [x], { perm });
}

function broadcastDims(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  return Array.from({ length: n }, (_, i) => {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    return da === 1 ? db : da;
  });
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
        const [aDims, bDims] = [c.requireShape(a), c.requireShape(b)];
        let dy = c.dy()!;
        if (aDims.length === 1 && bDims.length === 1) {
          if (c.needs(0)) c.setDx(0, c.b.op('Mul', [dy, b]));
          if (c.needs(1)) c.setDx(1, c.b.op('Mul', [dy, a]));
          return;
        }
        let [a2, b2, a2Dims, b2Dims] = [a, b, aDims, bDims];
        if (aDims.length === 1) {
          a2 = c.b.unsqueeze(a, [0]);
          a2Dims = [1, ...aDims];
          dy = c.b.unsqueeze(dy, [-2]);
        }
        if (bDims.length === 1) {
          b2 = c.b.unsqueeze(b, [1]);
          b2Dims = [...bDims, 1];
          dy = c.b.unsqueeze(dy, [-1]);
        }
        const batch = broadcastDims(a2Dims.slice(0, -2), b2Dims.slice(0, -2));
        if (c.needs(0)) {
          let da = c.b.op('MatMul', [dy, swapLast(c, b2, b2Dims.length)]);
          let daDims = [...batch, ...a2Dims.slice(-2)];
          if (aDims.length === 1) {
            da = c.b.squeeze(da, [daDims.length - 2]);
            daDims = [...batch, ...aDims];
          }
          c.setDx(0, c.reduceToShape(da, a, daDims));
        }
        if (c.needs(1)) {
          let db = c.b.op('MatMul', [swapLast(c, a2, a2Dims.length), dy]);
          let dbDims = [...batch, ...b2Dims.slice(-2)];
          if (bDims.length === 1) {
            db = c.b.squeeze(db, [dbDims.length - 1]);
            dbDims = [...batch, ...bDims];
          }
          c.setDx(1, c.reduceToShape(db, b, dbDims));
        }
      },
    },
  ],
};
