import type { OpRule } from '../rule.ts';

/** y = flatten(x, axis): dx is dy reshaped back to x's dims. */
export const flatten: OpRule = {
  op: 'Flatten',
  differentiable: 'all',
  versions: [{ since: 1, vjp: (c) => c.setDx(0, c.b.op('Reshape', [c.dy()!, c.shapeOf(c.input(0))])) }],
};
