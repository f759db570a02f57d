import type { OpRule } from '../rule.ts';

/** y = ln(x): dx = dy / x. */
export const log: OpRule = {
  op: 'Log',
  differentiable: 'all',
  versions: [{ since: 6, vjp: (c) => c.setDx(0, c.b.op('Div', [c.dy()!, c.input(0)])) }],
};
