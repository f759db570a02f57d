import type { OpRule } from '../rule.ts';

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/**
 * y = x Φ(x) (approximate 'none'): dx = dy (Φ(x) + x φ(x));
 * y = x/2 (1 + tanh(k(x + 0.044715x³))) ('tanh'): dx = dy (½(1 + t) + ½x(1 - t²) k (1 + 3·0.044715 x²)).
 */
export const gelu: OpRule = {
  op: 'Gelu',
  differentiable: 'all',
  versions: [
    {
      since: 20,
      vjp: (c) => {
        const x = c.input(0);
        const b = c.b;
        const k = (v: number): string => c.scalar(v, x);
        const xx = b.op('Mul', [x, x]);
        let slope: string;
        if (c.string('approximate', 'none') === 'tanh') {
          const inner = b.op('Mul', [
            b.op('Add', [x, b.op('Mul', [k(0.044715), b.op('Mul', [xx, x])])]),
            k(SQRT_2_OVER_PI),
          ]);
          const t = b.op('Tanh', [inner]);
          const dInner = b.op('Mul', [k(SQRT_2_OVER_PI), b.op('Add', [k(1), b.op('Mul', [k(3 * 0.044715), xx])])]);
          const half = b.op('Mul', [k(0.5), b.op('Add', [k(1), t])]);
          const rest = b.op('Mul', [
            b.op('Mul', [k(0.5), x]),
            b.op('Mul', [b.op('Sub', [k(1), b.op('Mul', [t, t])]), dInner]),
          ]);
          slope = b.op('Add', [half, rest]);
        } else {
          const cdf = b.op('Mul', [k(0.5), b.op('Add', [k(1), b.op('Erf', [b.op('Mul', [x, k(Math.SQRT1_2)])])])]);
          const pdf = b.op('Mul', [k(1 / Math.sqrt(2 * Math.PI)), b.op('Exp', [b.op('Mul', [xx, k(-0.5)])])]);
          slope = b.op('Add', [cdf, b.op('Mul', [x, pdf])]);
        }
        c.setDx(0, b.op('Mul', [c.dy()!, slope]));
      },
    },
  ],
};
