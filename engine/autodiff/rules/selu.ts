import type { OpRule } from '../rule.ts';

/** y = γx (x > 0) or γα(eˣ − 1): dx = γ dy, or dy (y + γα) below 0. */
export const selu: OpRule = {
  op: 'Selu',
  differentiable: 'all',
  versions: [
    {
      since: 6,
      vjp: (c) => {
        const [x, y] = [c.input(0), c.output(0)];
        const dy = c.dy()!;
        const gamma = c.float('gamma', 1.0507009873554805);
        const alpha = c.float('alpha', 1.6732632423543772);
        const above = c.b.op('Mul', [dy, c.scalar(gamma, x)]);
        const below = c.b.op('Mul', [dy, c.b.op('Add', [y, c.scalar(gamma * alpha, x)])]);
        c.setDx(0, c.b.op('Where', [c.b.op('Greater', [x, c.scalar(0, x)]), above, below]));
      },
    },
  ],
};
