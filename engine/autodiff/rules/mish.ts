import type { OpRule } from '../rule.ts';

/** y = x tanh(softplus x): dx = dy (t + x σ(x) (1 − t²)) with t = tanh(softplus x). */
export const mish: OpRule = {
  op: 'Mish',
  differentiable: 'all',
  versions: [
    {
      since: 18,
      vjp: (c) => {
        const b = c.b;
        const x = c.input(0);
        const t = b.op('Tanh', [b.op('Softplus', [x])]);
        const sech2 = b.op('Sub', [c.scalar(1, x), b.op('Mul', [t, t])]);
        const slope = b.op('Add', [t, b.op('Mul', [b.op('Mul', [x, b.op('Sigmoid', [x])]), sech2])]);
        c.setDx(0, b.op('Mul', [c.dy()!, slope]));
      },
    },
  ],
};
