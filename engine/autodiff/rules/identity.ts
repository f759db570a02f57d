import type { OpRule } from '../rule.ts';

/** y = x. */
export const identity: OpRule = {
  op: 'Identity',
  differentiable: 'all',
  versions: [{ since: 1, vjp: (c) => c.setDx(0, c.dy()!) }],
};
