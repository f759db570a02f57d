import type { OpRule } from '../rule.ts';

/** y = a / b: da = dy / b, db = -dy * y / b. */
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
        const da = c.needs(0) || c.needs(1) ? c.b.op('Div', [dy, b]) : '';
        if (c.needs(0)) c.setDx(0, da);
        if (c.needs(1)) c.setDx(1, c.b.op('Neg', [c.b.op('Mul', [da, c.output(0)])]));
      },
    },
  ],
};
