import type { OpRule } from '../rule.ts';

/**
 * y = a / b: da = dy / b, db = -dy * y / b. A constant b (x/6 in exported hard-swish, normalisation
 * by a fixed std) becomes a multiplication by its reciprocal, computed once when the graph is derived:
 * Mul is the cheaper kernel.
 */
export const div: OpRule = {
  op: 'Div',
  differentiable: 'all',
  broadcasts: true,
  versions: [
    {
      since: 7,
      vjp: (c) => {
        const dy = c.dy()!;
        const b = c.input(1);
        const constant = c.needs(1) ? undefined : c.constValues(b);
        const dims = c.shape(b);
        let da = '';
        if (constant !== undefined && dims !== undefined && constant.every((v) => v !== 0)) {
          da = c.b.op('Mul', [dy, c.b.constant(c.dtype(b), dims, constant.map((v) => 1 / v), 'reciprocal')]);
        } else if (c.needs(0) || c.needs(1)) {
          da = c.b.op('Div', [dy, b]);
        }
        if (c.needs(0)) c.setDx(0, da);
        if (c.needs(1)) c.setDx(1, c.b.op('Neg', [c.b.op('Mul', [da, c.output(0)])]));
      },
    },
  ],
};
