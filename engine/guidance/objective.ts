/**
 * What the fiber sampler needs from a (prior, extractor) pair. Implemented by the composed ONNX
 * graphs (OnnxFiberObjective) and by small analytic objectives in tests. All tensors are flat
 * float32 arrays of `batch` samples; every method must treat samples independently, so results
 * never depend on how samples are batched.
 */
import type { NoiseSchedule } from '../priors/schedule.ts';
import type { FiberLossName } from './losses.ts';

export interface PriorInfo {
  /** `diffusion`: integer t ∈ 0..T−1, network output ε (converted from v/x₀ by the objective). `flow`: t ∈ [0, 1], output velocity. */
  kind: 'diffusion' | 'flow';
  /** Diffusion priors only. */
  schedule?: NoiseSchedule;
  /** One sample's state (the latent for latent priors). */
  stateShape: readonly number[];
  /** Shape of one image as the extractor and the outputs see it (equals stateShape for pixel priors). */
  imageShape: readonly number[];
  /** Data range of images, e.g. [−1, 1]. */
  imageRange: readonly [number, number];
  /** Default clamp of x̂₀ in state space (the data range for pixel priors; null for latents); options may override it. */
  clip: readonly [number, number] | null;
  /** The network also outputs variance channels (needed by ancestral `learned_range`). */
  varianceChannels: boolean;
  /** The state is a latent; `encode`/`decode` map it to and from images. */
  latent: boolean;
}

export type Clip = readonly [number, number] | null;

export interface Prediction {
  /** ε for diffusion priors, velocity for flow priors. */
  out: Float32Array;
  /** Variance channels v ∈ [−1, 1] when the prior has them. */
  variance?: Float32Array;
}

export interface CostGradArgs {
  /** Current state x, [batch × state]. */
  x: Float32Array;
  /** Control u, [batch × state]; the network sees x′ = x + γu. */
  u: Float32Array;
  gamma: number;
  t: number;
  /** Target features, [batch × featureDim]. */
  y: Float32Array;
  batch: number;
  /** w_T. */
  weight: number;
  /** τ; when positive `epsRef` holds the detached prediction at x (τ·|pred(x′) − epsRef|² per sample). */
  tau: number;
  epsRef: Float32Array | null;
  /** Clamp range of x̂₀ (null: none). */
  clip: Clip;
}

export interface CostGradResult {
  /** Per sample: weight·ℓ(φ(clamp(x̂₀(x′))), y) + τ·|pred(x′) − epsRef|². */
  cost: Float64Array;
  /** ∂cost/∂u through the denoiser AND the extractor. */
  gradU: Float32Array;
  /** Clamped estimate x̂₀ (x̂₁ for flows) at x′, in state space. */
  x0hat: Float32Array;
  /** The prediction at x′. */
  pred: Float32Array;
  variance?: Float32Array;
}

export interface X0GradResult {
  /** Per sample: weight·ℓ(φ(clamp(x̂₀)), y). */
  cost: Float64Array;
  /** ∂cost/∂x̂₀ (zero where the clamp is active). */
  gradX0: Float32Array;
}

export interface FiberObjective {
  readonly prior: PriorInfo;
  readonly loss: FiberLossName;
  readonly featureDim: number;
  /** Network forward (no gradient). */
  predict(x: Float32Array, t: number, batch: number): Promise<Prediction>;
  /** y = φ(preprocess(decode(clamp(x̂₀)))) for state-space estimates. */
  features(x0: Float32Array, batch: number, clip: Clip): Promise<Float32Array>;
  /** φ(preprocess(images)) for images in the prior's image range (queries, final samples). */
  imageFeatures(images: Float32Array, batch: number): Promise<Float32Array>;
  /** The terminal cost and its gradient w.r.t. u, through the denoiser and φ. */
  costGrad(args: CostGradArgs): Promise<CostGradResult>;
  /** The cost's gradient w.r.t. x̂₀ only: the `no-denoiser-jacobian` variant. */
  costGradX0?(x0: Float32Array, y: Float32Array, batch: number, weight: number, clip: Clip): Promise<X0GradResult>;
  /** Latent priors: images → states. */
  encode?(images: Float32Array, batch: number): Promise<Float32Array>;
  /** Latent priors: states → images. */
  decode?(states: Float32Array, batch: number): Promise<Float32Array>;
}

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
