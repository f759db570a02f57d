/**
 * Adam on the control u, bias-corrected as torch.optim.Adam (defaults β = (0.9, 0.999), eps = 1e-8).
 * NDTM creates a fresh optimiser every diffusion step, so moments start at zero each step.
 */
export class Adam {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  private readonly m: Float64Array;
  private readonly v: Float64Array;
  private t = 0;
  constructor(size: number, lr: number, beta1 = 0.9, beta2 = 0.999, eps = 1e-8) {
    this.lr = lr;
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.eps = eps;
    this.m = new Float64Array(size);
    this.v = new Float64Array(size);
  }
  /** In place: param ← param − lr/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + eps). */
  step(param: Float32Array, grad: Float32Array): void {
    this.t += 1;
    const bc1 = 1 - this.beta1 ** this.t;
    const bc2 = Math.sqrt(1 - this.beta2 ** this.t);
    const stepSize = this.lr / bc1;
    const { m, v, beta1, beta2, eps } = this;
    for (let j = 0; j < param.length; j++) {
      const g = grad[j]!;
      const mj = (m[j] = beta1 * m[j]! + (1 - beta1) * g);
      const vj = (v[j] = beta2 * v[j]! + (1 - beta2) * g * g);
      param[j] = param[j]! - (stepSize * mj) / (Math.sqrt(vj) / bc2 + eps);
    }
  }
}

/** grad_b ← grad_b · min(1, 1/(‖grad_b‖₂ + 1e-6)) for each sample b of a [batch, size] gradient. */
export function normalizePerSample(grad: Float32Array, batch: number): void {
  const size = grad.length / batch;
  for (let b = 0; b < batch; b++) {
    let sq = 0;
    for (let j = b * size; j < (b + 1) * size; j++) sq += grad[j]! * grad[j]!;
    const scale = Math.min(1, 1 / (Math.sqrt(sq) + 1e-6));
    if (scale < 1) for (let j = b * size; j < (b + 1) * size; j++) grad[j] = grad[j]! * scale;
  }
}
