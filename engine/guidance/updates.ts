/**
 * The per-step arithmetic of the sampler (METHOD §3–§5): prediction conversions, Tweedie, clamp,
 * DDIM and ancestral DDPM updates, and the flow-matching Euler step. Pure functions on flat
 * [batch × size] float32 arrays; coefficients in float64.
 */
import type { RespacedSchedule } from '../priors/schedule.ts';

export type DiffusionPrediction = 'epsilon' | 'v' | 'x0';

/** ε from a network output at x_t, for a prior predicting ε, v or x₀. */
export function toEpsilon(
  prediction: DiffusionPrediction,
  xt: Float32Array,
  out: Float32Array,
  alphaBar: number,
): Float32Array {
  if (prediction === 'epsilon') return out;
  const a = Math.sqrt(alphaBar);
  const s = Math.sqrt(1 - alphaBar);
  const eps = new Float32Array(out.length);
  if (prediction === 'v') {
    // v = √ᾱ·ε − √(1−ᾱ)·x₀  ⇒  ε = √ᾱ·v + √(1−ᾱ)·x_t
    for (let j = 0; j < out.length; j++) eps[j] = a * out[j]! + s * xt[j]!;
  } else {
    for (let j = 0; j < out.length; j++) eps[j] = (xt[j]! - a * out[j]!) / s;
  }
  return eps;
}

/** Tweedie's estimate x̂₀ = (x_t − √(1−ᾱ_t)·ε) / √ᾱ_t. */
export function tweedie(xt: Float32Array, eps: Float32Array, alphaBar: number): Float32Array {
  const a = Math.sqrt(alphaBar);
  const s = Math.sqrt(1 - alphaBar);
  const out = new Float32Array(xt.length);
  for (let j = 0; j < xt.length; j++) out[j] = (xt[j]! - s * eps[j]!) / a;
  return out;
}

/** Flow-matching endpoint x̂₁ = x_t + (1−t)·v. */
export function flowEndpoint(xt: Float32Array, velocity: Float32Array, t: number): Float32Array {
  const out = new Float32Array(xt.length);
  for (let j = 0; j < xt.length; j++) out[j] = xt[j]! + (1 - t) * velocity[j]!;
  return out;
}

/** In place clamp to [lo, hi]; no-op without a range. */
export function clampInPlace(x: Float32Array, range: readonly [number, number] | null): Float32Array {
  if (range) {
    const [lo, hi] = range;
    for (let j = 0; j < x.length; j++) x[j] = Math.min(hi, Math.max(lo, x[j]!));
  }
  return x;
}

export type DdimVariance = 'small' | 'large';

/** c₁ (noise) and c₂ (ε) of x_s = √ᾱ_s·x̂₀ + c₁·z + c₂·ε′. */
export function ddimCoefficients(
  alphaBarT: number,
  alphaBarS: number,
  eta: number,
  variance: DdimVariance,
): { c1: number; c2: number } {
  if (variance === 'small') {
    const c1 = eta * Math.sqrt(((1 - alphaBarT / alphaBarS) * (1 - alphaBarS)) / (1 - alphaBarT));
    return { c1, c2: Math.sqrt(Math.max(0, 1 - alphaBarS - c1 * c1)) };
  }
  const c1 = eta * Math.sqrt(1 - alphaBarT / alphaBarS);
  return { c1, c2: Math.sqrt(Math.max(0, 1 - alphaBarS - ((1 - alphaBarS) / (1 - alphaBarT)) * c1 * c1)) };
}

export function ddimUpdate(
  x0: Float32Array,
  eps: Float32Array,
  z: Float32Array | null,
  alphaBarS: number,
  c: { c1: number; c2: number },
): Float32Array {
  const a = Math.sqrt(alphaBarS);
  const out = new Float32Array(x0.length);
  for (let j = 0; j < x0.length; j++) out[j] = a * x0[j]! + c.c2 * eps[j]! + (z ? c.c1 * z[j]! : 0);
  return out;
}

export type AncestralVariance = 'small' | 'large' | 'learned_range';

/** Posterior q(x_{k−1} | x_k, x̂₀) on the respaced chain, at grid index k. */
export interface AncestralCoefficients {
  coefX0: number;
  coefXt: number;
  beta: number;
  /** β′_k(1−ᾱ′_{k−1})/(1−ᾱ′_k); 0 at k = 0. */
  posteriorVariance: number;
  /** log of the posterior variance with k = 0 replaced by k = 1 (finite, for learned_range). */
  posteriorLogVarianceClipped: number;
}

export function ancestralCoefficients(chain: RespacedSchedule, k: number): AncestralCoefficients {
  const at = (j: number) => (j < 0 ? 1 : chain.alphasCumprod[j]!);
  const varianceAt = (j: number) => (chain.betas[j]! * (1 - at(j - 1))) / (1 - at(j));
  const beta = chain.betas[k]!;
  const posteriorVariance = varianceAt(k);
  const clippedIndex = k === 0 && chain.betas.length > 1 ? 1 : k;
  return {
    coefX0: (beta * Math.sqrt(at(k - 1))) / (1 - at(k)),
    coefXt: ((1 - at(k - 1)) * Math.sqrt(1 - beta)) / (1 - at(k)),
    beta,
    posteriorVariance,
    posteriorLogVarianceClipped: Math.log(varianceAt(clippedIndex)),
  };
}

/**
 * x_s = μ + σ·z (z omitted at t = 0), μ = coefX0·x̂₀ + coefXt·x′. For `learned_range` the model's
 * variance channels v ∈ [−1, 1] give f = (v+1)/2 and log σ² = f·log β′_k + (1−f)·log σ²_small.
 */
export function ancestralUpdate(
  x0: Float32Array,
  xt: Float32Array,
  z: Float32Array | null,
  c: AncestralCoefficients,
  variance: AncestralVariance,
  varianceChannels?: Float32Array,
): Float32Array {
  const out = new Float32Array(x0.length);
  const fixedSigma =
    variance === 'small' ? Math.sqrt(c.posteriorVariance) : variance === 'large' ? Math.sqrt(c.beta) : Number.NaN;
  const logBeta = Math.log(c.beta);
  for (let j = 0; j < x0.length; j++) {
    const mean = c.coefX0 * x0[j]! + c.coefXt * xt[j]!;
    if (!z) {
      out[j] = mean;
      continue;
    }
    let sigma = fixedSigma;
    if (variance === 'learned_range') {
      const f = (varianceChannels![j]! + 1) / 2;
      sigma = Math.exp(0.5 * (f * logBeta + (1 - f) * c.posteriorLogVarianceClipped));
    }
    out[j] = mean + sigma * z[j]!;
  }
  return out;
}

/** Deterministic Euler step of a flow: x ← x′ + dt·v(x′, t). */
export function eulerUpdate(xp: Float32Array, velocity: Float32Array, dt: number): Float32Array {
  const out = new Float32Array(xp.length);
  for (let j = 0; j < xp.length; j++) out[j] = xp[j]! + dt * velocity[j]!;
  return out;
}
