/**
 * An analytic fiber objective in plain TypeScript for sampler tests: prior N(μ, diag(s²)) with its
 * exact ε(x, t), a linear extractor φ(x) = A·x and the `l2` fiber loss, gradients by hand.
 */
import type {
  Clip,
  CostGradArgs,
  CostGradResult,
  FiberObjective,
  Prediction,
  PriorInfo,
  X0GradResult,
} from '../../engine/guidance/objective.ts';
import type { FiberLossName } from '../../engine/guidance/losses.ts';
import { FIBER_LOSSES } from '../../engine/guidance/losses.ts';
import { NoiseSchedule } from '../../engine/priors/schedule.ts';

export interface DiagonalGaussianSetup {
  mean: Float64Array;
  std: Float64Array;
  /** Row-major [featureDim × dim]. */
  A: Float64Array;
  featureDim: number;
  clip?: [number, number] | null;
  loss?: FiberLossName;
}

export class DiagonalGaussianObjective implements FiberObjective {
  readonly prior: PriorInfo;
  readonly loss: FiberLossName;
  readonly featureDim: number;
  readonly calls: { method: string; t?: number; x?: Float32Array; y?: Float32Array; batch: number }[] = [];
  private readonly dim: number;
  constructor(private readonly setup: DiagonalGaussianSetup) {
    this.dim = setup.mean.length;
    this.featureDim = setup.featureDim;
    this.loss = setup.loss ?? 'l2';
    const clip = setup.clip === undefined ? null : setup.clip;
    this.prior = {
      kind: 'diffusion',
      schedule: new NoiseSchedule(),
      stateShape: [this.dim],
      imageShape: [this.dim],
      imageRange: clip ?? [-1e9, 1e9],
      clip,
      varianceChannels: false,
      latent: false,
    };
  }
  private abar(t: number): number {
    return this.prior.schedule!.alphaBar(t);
  }
  /** ε_j = √(1−ā)(x_j − √ā μ_j)/(ā s_j² + 1 − ā). */
  async predict(x: Float32Array, t: number, batch: number): Promise<Prediction> {
    this.calls.push({ method: 'predict', t, x, batch });
    const a = this.abar(t);
    const out = new Float32Array(x.length);
    for (let j = 0; j < x.length; j++) {
      const d = j % this.dim;
      const s2 = this.setup.std[d]! ** 2;
      out[j] = (Math.sqrt(1 - a) * (x[j]! - Math.sqrt(a) * this.setup.mean[d]!)) / (a * s2 + 1 - a);
    }
    return { out };
  }
  private phi(x: Float32Array, batch: number): Float32Array {
    const { A, featureDim: F } = this.setup;
    const out = new Float32Array(batch * F);
    for (let b = 0; b < batch; b++)
      for (let f = 0; f < F; f++) {
        let acc = 0;
        for (let j = 0; j < this.dim; j++) acc += A[f * this.dim + j]! * x[b * this.dim + j]!;
        out[b * F + f] = acc;
      }
    return out;
  }
  private clamp(x: Float32Array, c: Clip): { x: Float32Array; mask: Uint8Array } {
    const mask = new Uint8Array(x.length).fill(1);
    if (!c) return { x, mask };
    const out = x.map((v, j) => {
      if (v < c[0] || v > c[1]) mask[j] = 0;
      return Math.min(c[1], Math.max(c[0], v));
    });
    return { x: out, mask };
  }
  async features(x0: Float32Array, batch: number, clip: Clip = this.prior.clip): Promise<Float32Array> {
    this.calls.push({ method: 'features', batch });
    return this.phi(this.clamp(x0, clip).x, batch);
  }
  async imageFeatures(images: Float32Array, batch: number): Promise<Float32Array> {
    this.calls.push({ method: 'imageFeatures', batch });
    return this.phi(images, batch);
  }
  /** Loss and ∂/∂x̂₀ for clamped estimates. */
  private lossGrad(x0: Float32Array, y: Float32Array, batch: number, weight: number, clip: Clip) {
    const { x, mask } = this.clamp(x0, clip);
    const h = this.phi(x, batch);
    const F = this.featureDim;
    const loss = FIBER_LOSSES[this.loss];
    const cost = new Float64Array(batch);
    const gradX0 = new Float32Array(x0.length);
    const gh = new Float64Array(F);
    for (let b = 0; b < batch; b++) {
      const hb = h.subarray(b * F, (b + 1) * F);
      const yb = y.subarray(b * F, (b + 1) * F);
      cost[b] = weight * loss.value(hb, yb);
      loss.grad(hb, yb, gh);
      for (let j = 0; j < this.dim; j++) {
        let acc = 0;
        for (let f = 0; f < F; f++) acc += this.setup.A[f * this.dim + j]! * gh[f]!;
        gradX0[b * this.dim + j] = weight * acc * mask[b * this.dim + j]!;
      }
    }
    return { cost, gradX0, x0: x };
  }
  async costGrad(args: CostGradArgs): Promise<CostGradResult> {
    this.calls.push({ method: 'costGrad', t: args.t, y: args.y, batch: args.batch });
    const { x, u, gamma, t, y, batch, weight } = args;
    const a = this.abar(t);
    const xp = x.map((v, j) => v + gamma * u[j]!);
    const { out: pred } = await this.predict(xp, t, batch);
    this.calls.pop();
    const x0 = xp.map((v, j) => (v - Math.sqrt(1 - a) * pred[j]!) / Math.sqrt(a));
    const res = this.lossGrad(x0, y, batch, weight, args.clip);
    // x̂₀ is affine in x′ with slope √ā s²/(ā s² + 1 − ā) per coordinate.
    const gradU = res.gradX0.map((g, j) => {
      const s2 = this.setup.std[j % this.dim]! ** 2;
      return gamma * g * ((Math.sqrt(a) * s2) / (a * s2 + 1 - a));
    });
    if (args.tau > 0 && args.epsRef) {
      for (let b = 0; b < batch; b++) {
        for (let j = b * this.dim; j < (b + 1) * this.dim; j++) {
          const diff = pred[j]! - args.epsRef[j]!;
          res.cost[b] = res.cost[b]! + args.tau * diff * diff;
          const s2 = this.setup.std[j % this.dim]! ** 2;
          gradU[j] = gradU[j]! + 2 * args.tau * diff * gamma * (Math.sqrt(1 - a) / (a * s2 + 1 - a));
        }
      }
    }
    return { cost: res.cost, gradU, x0hat: res.x0, pred };
  }
  async costGradX0(
    x0: Float32Array,
    y: Float32Array,
    batch: number,
    weight: number,
    clip: Clip = this.prior.clip,
  ): Promise<X0GradResult> {
    this.calls.push({ method: 'costGradX0', x: x0, y, batch });
    const res = this.lossGrad(x0, y, batch, weight, clip);
    return { cost: res.cost, gradX0: res.gradX0 };
  }
}

/** A small deterministic pseudo-random matrix/vector source for test setups (not the sampler's RNG). */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296 - 0.5;
  };
}
