/**
 * Fiber losses ℓ(φ(x̂₀), y), per sample over the feature dimension (METHOD §2). The composed ONNX
 * graphs compute the same formulas; these are the reference values and gradients w.r.t. features.
 */
import { InputError } from '../errors.ts';

export type FiberLossName = 'l2' | 'l1' | 'cross_entropy';

export interface FiberLoss {
  /** Loss of one sample's features h against target y. */
  value(h: ArrayLike<number>, y: ArrayLike<number>): number;
  /** ∂ℓ/∂h into `out`. */
  grad(h: ArrayLike<number>, y: ArrayLike<number>, out: Float32Array | Float64Array): void;
}

export function logSoftmax(z: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let j = 0; j < z.length; j++) max = Math.max(max, z[j]!);
  let sum = 0;
  for (let j = 0; j < z.length; j++) sum += Math.exp(z[j]! - max);
  const lse = max + Math.log(sum);
  const out = new Float64Array(z.length);
  for (let j = 0; j < z.length; j++) out[j] = z[j]! - lse;
  return out;
}

export function softmax(z: ArrayLike<number>): Float64Array {
  return logSoftmax(z).map(Math.exp);
}

export const FIBER_LOSSES: Record<FiberLossName, FiberLoss> = {
  /** ‖h − y‖₂, unsquared (every paper experiment). */
  l2: {
    value(h, y) {
      let sq = 0;
      for (let j = 0; j < h.length; j++) sq += (h[j]! - y[j]!) ** 2;
      return Math.sqrt(sq);
    },
    grad(h, y, out) {
      const norm = FIBER_LOSSES.l2.value(h, y);
      for (let j = 0; j < h.length; j++) out[j] = norm > 0 ? (h[j]! - y[j]!) / norm : 0;
    },
  },
  l1: {
    value(h, y) {
      let s = 0;
      for (let j = 0; j < h.length; j++) s += Math.abs(h[j]! - y[j]!);
      return s;
    },
    grad(h, y, out) {
      for (let j = 0; j < h.length; j++) out[j] = Math.sign(h[j]! - y[j]!);
    },
  },
  /** CE(logits h, target probabilities softmax(y)). */
  cross_entropy: {
    value(h, y) {
      const logP = logSoftmax(h);
      const q = softmax(y);
      let s = 0;
      for (let j = 0; j < h.length; j++) s -= q[j]! * logP[j]!;
      return s;
    },
    grad(h, y, out) {
      const p = softmax(h);
      const q = softmax(y);
      for (let j = 0; j < h.length; j++) out[j] = p[j]! - q[j]!;
    },
  },
};

export function fiberLoss(name: string, input = 'loss'): FiberLoss {
  const loss = FIBER_LOSSES[name as FiberLossName];
  if (!loss) throw new InputError(input, `expected one of ${Object.keys(FIBER_LOSSES).join(', ')}, got ${name}`);
  return loss;
}

/** Per-sample losses of [batch × dim] features against [batch × dim] targets. */
export function batchLoss(name: FiberLossName, h: Float32Array, y: Float32Array, batch: number): Float64Array {
  const dim = h.length / batch;
  const loss = FIBER_LOSSES[name];
  const out = new Float64Array(batch);
  for (let b = 0; b < batch; b++)
    out[b] = loss.value(h.subarray(b * dim, (b + 1) * dim), y.subarray(b * dim, (b + 1) * dim));
  return out;
}
