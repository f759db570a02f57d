import type { OpRule } from '../rule.ts';

/** y = unsqueeze(x, axes); axes as attribute or (opset 13+) input: dx is dy reshaped back to x's dims. */
export const unsqueeze: OpRule = {
  op: 'Unsqueeze',
  differentiable: [0],
  versions: [{ since: 1, vjp: (c) => c.setDx(0, c.b.op('Reshape', [c.dy()!, c.shapeOf(c.input(0))])) }],
};
