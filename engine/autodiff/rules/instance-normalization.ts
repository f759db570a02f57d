import { perChannel, standardize, standardizeVjp, trailingAxes } from '../reduction.ts';
import type { OpRule } from '../rule.ts';

/**
 * y = x̂ scale[c] + B[c], x̂ standardised per sample and channel over the spatial axes of
 * [N, C, ...]: dx = standardizeVjp(dy scale), dscale = Σ dy x̂, dB = Σ dy over N and space.
 */
export const instanceNormalization: OpRule = {
  op: 'InstanceNormalization',
  differentiable: 'all',
  versions: [
    {
      since: 6,
      vjp: (c) => {
        const b = c.b;
        const [x, scale, dy] = [c.input(0), c.input(1), c.dy()!];
        const rank = c.rank(x);
        if (rank < 3) c.fail(`needs an input of rank 3 or more ([N, C, ...]), got rank ${rank}`);
        const spatial = trailingAxes(2, rank);
        const { xhat, rstd } = standardize(c, x, spatial, c.float('epsilon', 1e-5));
        if (c.needs(0)) {
          const g = b.op('Mul', [dy, perChannel(c, scale, rank)]);
          c.setDx(0, standardizeVjp(c, g, xhat, rstd, spatial));
        }
        if (c.needs(1)) c.setDx(1, b.reduceSum(b.op('Mul', [dy, xhat]), [0, ...spatial], false));
        if (c.needs(2)) c.setDx(2, b.reduceSum(dy, [0, ...spatial], false));
      },
    },
  ],
};
