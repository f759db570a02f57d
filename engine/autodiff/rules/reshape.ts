import type { OpRule } from '../rule.ts';

/** y = reshape(x, shape): dx is dy reshaped back to x's dims. */
export const reshape: OpRule = {
  op: 'Reshape',
  differentiable: [0],
  versions: [{ since: 5, vjp: (c) => c.setDx(0, c.b.op('Reshape', [c.dy()!, c.shapeOf(c.input(0))])) }],
};
