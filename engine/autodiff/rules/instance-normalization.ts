import { attrFloat, float } from '../../onnx/attributes.ts';
import { DataType } from '../../onnx/ir.ts';
import type { Node } from '../../onnx/ir.ts';
import { filledWith } from '../patterns.ts';
import type { ExportedGroupNorm } from '../patterns.ts';
import { perChannel, standardize, standardizeVjp, trailingAxes } from '../reduction.ts';
import type { OpRule, RuleContext } from '../rule.ts';

/**
 * The inverse standard deviation of a plain InstanceNormalization's groups, read from the forward
 * pass: from opset 17 the node is computed as a LayerNormalization over the same axes (from 2 on),
 * unit scale, which returns InvStdDev beside Y. Recomputing it costs four passes over x (mean,
 * centring, square, mean), and onnxruntime's LayerNormalization is faster than its
 * InstanceNormalization besides. Needs float32 (LayerNormalization keeps its statistics in float)
 * and static spatial dims (for the scale, one constant per spatial shape).
 */
function forwardRstd(c: RuleContext, x: string, epsilon: number, of?: Node): string | undefined {
  const dims = c.shape(x);
  if (c.opset < 17 || c.dtype(x) !== DataType.float32 || !dims || dims.length < 3) return undefined;
  const outputs = c.restateForward(
    'LayerNormalization',
    [x, c.b.filled(1, DataType.float32, dims.slice(2))],
    { axis: 2, epsilon: float(epsilon) },
    3,
    of,
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
        const unitScale = !c.needs(1) && filledWith(c, scale, 1);
        const plain = unitScale && !c.needs(2) && filledWith(c, bias, 0);
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

/**
 * The whole exported GroupNorm (patterns.ts, exportedGroupNorm) at its Add, from dy to x. With
 * S₁ = Σ dy and S₂ = Σ dy x̂ per sample and channel (over space) and r the group's inverse
 * standard deviation (from the forward pass), the chain rule through the affine part and the
 * norm, dx = r (γ dy − mean(γ dy) − x̂ mean(γ dy x̂)) over the group's M values, is
 *   dx = dy · rγ + x̂ · (−r/M Σ_c γ S₂) + (−r/M Σ_c γ S₁),
 * per-(sample, channel) factors on two full-size tensors. Four full-size elementwise passes: dy x̂
 * for S₂, dy·rγ + (−r/M Σ_c γ S₁) as one BatchNormalization over [1, N·C, space], x̂ times its factor
 * and the Add, where the chain rule spends six (the Mul by γ, then five in standardizeVjp). The
 * forward Mul and Add become one BatchNormalization too
 * (scale γ, bias β, mean 0, variance 1, epsilon 0: the same values). Returns false (nothing
 * emitted) where the statistics cannot come from the forward pass (before opset 17, not float32).
 */
export function groupNormVjp(c: RuleContext, g: ExportedGroupNorm): boolean {
  const b = c.b;
  const F = DataType.float32;
  const dims = c.requireShape(g.x);
  if (c.dtype(g.x) !== F) return false;
  const rstd = forwardRstd(c, g.norm.inputs[0]!, attrFloat(g.norm, 'epsilon', 1e-5), g.norm);
  if (!rstd) return false;
  const [n, channels, ...space] = dims as [number, number, ...number[]];
  const per = channels / g.groups;
  const size = space.reduce((p, q) => p * q, 1);
  // y = x·scale + bias per channel of [N, C, ...]: mean 0, variance 1, epsilon 0.
  const affine = (x: string, scale: string, bias: string, count: number): string[] => [
    x,
    scale,
    bias,
    b.filled(0, F, [count]),
    b.filled(1, F, [count]),
  ];
  const exact = { epsilon: float(0) };
  const [gammaC, betaC] = [b.constant(F, [channels], g.gamma, 'gamma'), b.constant(F, [channels], g.beta, 'beta')];
  c.restateForward('BatchNormalization', affine(g.xhat, gammaC, betaC, channels), exact, 1);
  if (!c.needsTensor(g.x)) return true;
  const dy = c.dy()!;
  const spatial = trailingAxes(2, dims.length);
  const grouped = b.int64s([n, g.groups, per], 'groups');
  const gamma = b.constant(F, [1, g.groups, per], g.gamma, 'gamma');
  // Σ_c γ S over the group's channels, [N, G, 1].
  const weighted = (s: string) => b.reduceSum(b.op('Mul', [b.op('Reshape', [s, grouped]), gamma]), [2], true);
  const s1 = weighted(b.reduceSum(dy, spatial, true));
  const s2 = weighted(b.reduceSum(b.op('Mul', [dy, g.xhat]), spatial, true));
  const scaled = b.op('Mul', [rstd, c.scalar(-1 / (per * size), g.x)]);
  const spread = (t: string, to: number[]) => b.op('Reshape', [b.op('Expand', [t, grouped]), b.int64s(to, 'shape')]);
  const flat = [n * channels];
  const slope = b.op('Reshape', [b.op('Mul', [rstd, gamma]), b.int64s(flat, 'shape')]);
  const offset = spread(b.op('Mul', [scaled, s1]), flat);
  const lin = spread(b.op('Mul', [scaled, s2]), [n, channels, ...space.map(() => 1)]);
  const rows = b.op('Reshape', [dy, b.int64s([1, n * channels, size], 'shape')]);
  const first = b.op('BatchNormalization', affine(rows, slope, offset, n * channels), exact);
  c.setDxOf(g.x, b.op('Add', [b.op('Reshape', [first, b.int64s(dims, 'shape')]), b.op('Mul', [g.xhat, lin])]));
  return true;
}
