import { DataType } from '../../onnx/ir.ts';
import { axesFrom, standardize, standardizeVjp } from '../reduction.ts';
import type { OpRule } from '../rule.ts';

/**
 * y = x̂ scale + B, x̂ standardised over the axes from `axis` (default −1) on:
 * dx = standardizeVjp(dy scale), dscale = Σ dy x̂ and dB = Σ dy over the broadcast axes.
 * Mean and InvStdDev come from the node's own optional outputs (added to it when the model left
 * them out) where they are held in x's type (stash_type, float by default, equals it), saving
 * three passes over x; otherwise they are recomputed in x's type.
 */
export const layerNormalization: OpRule = {
  op: 'LayerNormalization',
  differentiable: 'all',
  versions: [
    {
      since: 17,
      vjp: (c) => {
        if (c.dy(1) !== undefined || c.dy(2) !== undefined) {
          c.fail('gradients through the Mean and InvStdDev outputs are not supported; only Y can be differentiated');
        }
        const dy = c.dy(0)!;
        const b = c.b;
        const [x, scale] = [c.input(0), c.input(1)];
        const axes = axesFrom(c, x, c.int('axis', -1));
        let xhat: string;
        let rstd: string;
        if (c.int('stash_type', 1) === DataType.float32 && c.dtype(x) === DataType.float32) {
          rstd = c.forwardOutput(2);
          xhat = b.op('Mul', [b.op('Sub', [x, c.forwardOutput(1)]), rstd]);
        } else ({ xhat, rstd } = standardize(c, x, axes, c.float('epsilon', 1e-5)));
        if (c.needs(0)) c.setDx(0, standardizeVjp(c, b.op('Mul', [dy, scale]), xhat, rstd, axes));
        if (c.needs(1)) c.setDx(1, c.reduceToShape(b.op('Mul', [dy, xhat]), scale, c.shape(x)));
        if (c.needs(2)) c.setDx(2, c.reduceToShape(dy, c.input(2), c.shape(x)));
      },
    },
  ],
};
