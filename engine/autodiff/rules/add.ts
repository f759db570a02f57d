import { exportedGroupNorm } from '../patterns.ts';
import type { OpRule } from '../rule.ts';
import { groupNormVjp } from './instance-normalization.ts';

/**
 * y = a + b: both cotangents pass through unchanged (the driver undoes broadcasting). The Add that
 * ends an exported GroupNorm differentiates the whole GroupNorm (instance-normalization.ts).
 */
export const add: OpRule = {
  op: 'Add',
  differentiable: 'all',
  broadcasts: true,
  versions: [
    {
      since: 7,
      vjp: (c) => {
        const norm = exportedGroupNorm(c);
        if (norm && groupNormVjp(c, norm)) return;
        const dy = c.dy()!;
        c.setDx(0, dy);
        c.setDx(1, dy);
      },
    },
  ],
};
