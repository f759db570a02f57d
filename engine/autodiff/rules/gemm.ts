import { float } from '../../onnx/attributes.ts';
import type { OpRule } from '../rule.ts';

/**
 * y = α a′ b′ + β c with a′ = transA ? aᵀ : a (and b′ likewise). Each input gradient is one Gemm:
 * da = α dy b′ᵀ (transposed back when transA), db = α a′ᵀ dy (likewise), dc = β dy summed to c's shape.
 */
export const gemm: OpRule = {
  op: 'Gemm',
  differentiable: 'all',
  versions: [
    {
      since: 11,
      vjp: (c) => {
        const dy = c.dy()!;
        const [a, b] = [c.input(0), c.input(1)];
        const alpha = float(c.float('alpha', 1));
        const transA = c.int('transA', 0);
        const transB = c.int('transB', 0);
        if (c.needs(0)) {
          c.setDx(
            0,
            transA
              ? c.b.op('Gemm', [b, dy], { alpha, transA: transB, transB: 1 })
              : c.b.op('Gemm', [dy, b], { alpha, transB: transB ? 0 : 1 }),
          );
        }
        if (c.needs(1)) {
          c.setDx(
            1,
            transB
              ? c.b.op('Gemm', [dy, a], { alpha, transA: 1, transB: transA })
              : c.b.op('Gemm', [a, dy], { alpha, transA: transA ? 0 : 1 }),
          );
        }
        if (c.input(2) && c.needs(2)) {
          const beta = c.float('beta', 1);
          const scaled = beta === 1 ? dy : c.b.op('Mul', [dy, c.scalar(beta, dy)]);
          c.setDx(2, c.reduceToShape(scaled, c.input(2), c.shape(c.output(0))));
        }
      },
    },
  ],
};
