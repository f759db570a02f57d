import type { OpRule } from '../rule.ts';

/** y = squeeze(x, axes); axes as attribute or (opset 13+) input: dx is dy reshaped back to x's dims. */
export const squeeze: OpRule = {
  op: 'Squeeze',
  differentiable: [0],
  versions: [{ since: 1, vjp: (c) => c.setDx(0, c.b.op('Reshape', [c.dy()!, c.shapeOf(c.input(0))])) }],
};
