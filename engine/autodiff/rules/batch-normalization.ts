import { perChannel, trailingAxes } from '../reduction.ts';
import type { OpRule } from '../rule.ts';

/**
 * Inference mode: y = (x − mean[c]) r[c] scale[c] + B[c] with r = 1 / √(var + ε) from the running
 * statistics. dx = dy scale r; dscale = r Σ dy (x − mean); dB = Σ dy; dmean = −scale r Σ dy;
 * dvar = −½ scale r³ Σ dy (x − mean), sums over N and space. Training mode (batch statistics)
 * is refused.
 */
export const batchNormalization: OpRule = {
  op: 'BatchNormalization',
  differentiable: 'all',
  versions: [
    {
      since: 9,
      vjp: (c) => {
        // Before opset 14 a node with running-statistics outputs is in training mode.
        if (c.int('training_mode', 0) === 1 || c.node.outputs.filter(Boolean).length > 1) {
          c.fail(
            'training mode (batch statistics) is not supported; export the model in eval mode so that it uses the running mean and variance',
          );
        }
        const b = c.b;
        const [x, scale, mean, variance, dy] = [c.input(0), c.input(1), c.input(3), c.input(4), c.dy()!];
        const rank = c.rank(x);
        const axes = [0, ...trailingAxes(2, rank)];
        const rstd = b.op('Reciprocal', [
          b.op('Sqrt', [b.op('Add', [variance, c.scalar(c.float('epsilon', 1e-5), x)])]),
        ]);
        const gain = b.op('Mul', [scale, rstd]);
        if (c.needs(0)) c.setDx(0, b.op('Mul', [dy, perChannel(c, gain, rank)]));
        const total = c.needs(2) || c.needs(3) ? b.reduceSum(dy, axes, false) : '';
        if (c.needs(2)) c.setDx(2, total);
        if (c.needs(3)) c.setDx(3, b.op('Neg', [b.op('Mul', [total, gain])]));
        if (c.needs(1) || c.needs(4)) {
          const centered = b.op('Sub', [x, perChannel(c, mean, rank)]);
          const moment = b.reduceSum(b.op('Mul', [dy, centered]), axes, false);
          if (c.needs(1)) c.setDx(1, b.op('Mul', [moment, rstd]));
          if (c.needs(4)) {
            const rstd3 = b.op('Mul', [rstd, b.op('Mul', [rstd, rstd])]);
            const factor = b.op('Mul', [b.op('Mul', [scale, rstd3]), c.scalar(-0.5, x)]);
            c.setDx(4, b.op('Mul', [moment, factor]));
          }
        }
      },
    },
  ],
};
