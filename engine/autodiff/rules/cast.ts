import type { OpRule } from '../rule.ts';

/** y = cast(x): the cotangent is cast back to x's type (casts to integer types stop gradients upstream). */
export const cast: OpRule = {
  op: 'Cast',
  differentiable: 'all',
  versions: [{ since: 6, vjp: (c) => c.setDx(0, c.b.op('Cast', [c.dy()!], { to: c.dtype(c.input(0)) })) }],
};
