import { float } from '../../onnx/attributes.ts';
import { DataType } from '../../onnx/ir.ts';
import { perChannel, standardize, standardizeVjp, trailingAxes } from '../reduction.ts';
import type { OpRule, RuleContext } from '../rule.ts';

/** Whether a constant input holds `v` everywhere (exports of GroupNorm pass ones and zeros). */
function constantly(c: RuleContext, name: string, v: number): boolean {
  const values = c.constValues(name);
  return values !== undefined && values.every((u) => u === v);
}

/**
 * The inverse standard deviation of a plain InstanceNormalization's groups, read from the forward
 * pass: from opset 17 the node is computed as a LayerNormalization over the same axes (from 2 on),
 * unit scale, which returns InvStdDev beside Y. Recomputing it costs four passes over x (mean,
 * centring, square, mean), and onnxruntime's LayerNormalization is faster than its
 * InstanceNormalization besides. Needs float32 (LayerNormalization keeps its statistics in float)
 * and static spatial dims (for the scale, one constant per spatial shape).
 */
function forwardRstd(c: RuleContext, x: string, epsilon: number): string | undefined {
  const dims = c.shape(x);
  if (c.opset < 17 || c.dtype(x) !== DataType.float32 || !dims || dims.length < 3) return undefined;
  const outputs = c.restateForward(
    'LayerNormalization',
    [x, c.b.filled(1, DataType.float32, dims.slice(2))],
    { axis: 2, epsilon: float(epsilon) },
    3,
  );
  return outputs[2];
}

/**
 * y = x̂ scale[c] + B[c], x̂ standardised per sample and channel over the spatial axes of
 * [N, C, ...]: dx = standardizeVjp(dy scale), dscale = Σ dy x̂, dB = Σ dy over N and space.
 * Exports write GroupNorm as a reshape around an InstanceNormalization with constant ones and
 * zeros (the affine part follows as Mul and Add): there x̂ is y itself and dy needs no scaling,
 * two passes fewer, and the statistics come from the forward pass (forwardRstd) where they can.
 */
export const instanceNormalization: OpRule = {
  op: 'InstanceNormalization',
  differentiable: 'all',
  versions: [
    {
      since: 6,
      vjp: (c) => {
        const b = c.b;
        const [x, scale, bias, dy] = [c.input(0), c.input(1), c.input(2), c.dy()!];
        const rank = c.rank(x);
        if (rank < 3) c.fail(`needs an input of rank 3 or more ([N, C, ...]), got rank ${rank}`);
        const spatial = trailingAxes(2, rank);
        const unitScale = !c.needs(1) && constantly(c, scale, 1);
        const plain = unitScale && !c.needs(2) && constantly(c, bias, 0);
        const epsilon = c.float('epsilon', 1e-5);
        const stored = plain ? forwardRstd(c, x, epsilon) : undefined;
        const { xhat, rstd } = stored
          ? { xhat: c.output(0), rstd: stored }
          : standardize(c, x, spatial, epsilon, plain ? c.output(0) : undefined);
        if (c.needs(0)) {
          const g = unitScale ? dy : b.op('Mul', [dy, perChannel(c, scale, rank)]);
          c.setDx(0, standardizeVjp(c, g, xhat, rstd, spatial));
        }
        if (c.needs(1)) c.setDx(1, b.reduceSum(b.op('Mul', [dy, xhat]), [0, ...spatial], false));
        if (c.needs(2)) c.setDx(2, b.reduceSum(dy, [0, ...spatial], false));
      },
    },
  ],
};
