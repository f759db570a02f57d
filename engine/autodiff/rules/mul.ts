import { erfGelu, silu } from '../patterns.ts';
import type { OpRule } from '../rule.ts';

/**
 * y = a * b: da = dy * b, db = dy * a. Two activations exported as chains ending in a Mul are
 * differentiated whole (engine/autodiff/patterns.ts): x·σ(x) as dx = dy (σ + y − yσ), four passes
 * instead of six; x/2 · (1 + erf(x/√2)) as dx = dy/2 (A + x √(2/π) e^(−z²)), A = 1 + erf(z),
 * z = x/√2, seven passes instead of ten.
 */
export const mul: OpRule = {
  op: 'Mul',
  differentiable: 'all',
  broadcasts: true,
  versions: [
    {
      since: 7,
      vjp: (c) => {
        const dy = c.dy()!;
        const b = c.b;
        const swish = silu(c);
        if (swish) {
          const y = c.output(0);
          const slope = b.op('Add', [swish.s, b.op('Sub', [y, b.op('Mul', [y, swish.s])])]);
          c.setDx(c.input(0) === swish.x ? 0 : 1, b.op('Mul', [dy, slope]));
          return;
        }
        const gelu = erfGelu(c);
        if (gelu) {
          if (!c.needsTensor(gelu.x)) return;
          const { x, a, z } = gelu;
          // √(2/π) e^(−z²) as one Exp: e^(ln √(2/π) − z²).
          const density = b.op('Exp', [
            b.op('Sub', [c.scalar(Math.log(Math.sqrt(2 / Math.PI)), x), b.op('Mul', [z, z])]),
          ]);
          const slope = b.op('Add', [a, b.op('Mul', [x, density])]);
          c.setDxOf(x, b.op('Mul', [b.op('Mul', [dy, c.scalar(0.5, x)]), slope]));
          return;
        }
        if (c.needs(0)) c.setDx(0, b.op('Mul', [dy, c.input(1)]));
        if (c.needs(1)) c.setDx(1, b.op('Mul', [dy, c.input(0)]));
      },
    },
  ],
};
