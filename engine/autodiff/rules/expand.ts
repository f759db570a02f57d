import type { OpRule } from '../rule.ts';

/** y = expand(x, shape): a broadcast, undone by the driver's reduction. */
export const expand: OpRule = {
  op: 'Expand',
  differentiable: [0],
  broadcasts: true,
  versions: [{ since: 8, vjp: (c) => c.setDx(0, c.dy()!) }],
};
