/**
 * Analytic priors with exact ε(x, t), built as ONNX graphs so they run through the same composition,
 * gradient transform and runtime as real networks: a Gaussian N(μ, QΛQᵀ), a mixture of isotropic
 * Gaussians, and the empirical distribution of a small image set (a mixture of deltas). They give
 * known answers for tests and instant demos. Only standard ops with gradient rules are used.
 */
import { InputError } from '../errors.ts';
import { DataType, GraphBuilder, emptyModel } from '../onnx/index.ts';
import type { Model } from '../onnx/index.ts';
import type { ExtractorManifest, PriorManifest } from './bundle.ts';
import type { ScheduleSpec } from './schedule.ts';
import { DEFAULT_SCHEDULE, NoiseSchedule } from './schedule.ts';

const F32 = DataType.float32;

export interface AnalyticPrior {
  /** Inputs `x` [N, ...shape] float32 and `t` [N] int64; output `eps`. */
  model: Model;
  manifest: PriorManifest;
}

export interface AnalyticCommon {
  /** One sample's shape as [channels, height, width]. */
  shape: [number, number, number];
  range?: [number, number];
  /** Clamp of x̂₀; default none (analytic data are not bounded). */
  clip?: [number, number] | null;
  schedule?: ScheduleSpec;
  opset?: number;
}

interface Scaffold {
  m: Model;
  b: GraphBuilder;
  D: number;
  /** x as [N, D]. */
  flat: string;
  /** ᾱ_t, √ᾱ_t and √(1−ᾱ_t) as [N, 1]. */
  abar: string;
  sqrtAbar: string;
  sqrtOneMinus: string;
}

function scaffold(common: AnalyticCommon, name: string): Scaffold {
  const [c, h, w] = common.shape;
  const D = c * h * w;
  const m: Model = emptyModel(
    name,
    common.opset ?? 17,
    [
      { name: 'x', dataType: F32, shape: ['N', c, h, w] },
      { name: 't', dataType: DataType.int64, shape: ['N'] },
    ],
    [{ name: 'eps', dataType: F32, shape: ['N', c, h, w] }],
  );
  const b = GraphBuilder.forModel(m);
  const schedule = new NoiseSchedule(common.schedule ?? DEFAULT_SCHEDULE);
  const table = b.constant(F32, [schedule.timesteps], schedule.alphasCumprod, 'alphas_cumprod');
  const abar = b.unsqueeze(b.op('Gather', [table, 't']), [1]);
  const one = b.scalar(1, F32);
  return {
    m,
    b,
    D,
    flat: b.op('Reshape', ['x', b.int64s([-1, D], 'flat_shape')]),
    abar,
    sqrtAbar: b.op('Sqrt', [abar]),
    sqrtOneMinus: b.op('Sqrt', [b.op('Sub', [one, abar])]),
  };
}

function finish(s: Scaffold, eps: string, common: AnalyticCommon, name: string): AnalyticPrior {
  s.b.op('Reshape', [eps, s.b.int64s([-1, ...common.shape], 'image_shape')], undefined, 'eps');
  const [channels, height, width] = common.shape;
  return {
    model: s.m,
    manifest: {
      version: 1,
      kind: 'prior',
      type: 'diffusion',
      name,
      denoiser: {
        file: `${name}.onnx`,
        input: 'x',
        timestep: 't',
        output: 'eps',
        prediction: 'epsilon',
        varianceChannels: false,
      },
      schedule: common.schedule ?? { ...DEFAULT_SCHEDULE },
      image: { channels, height, width, range: common.range ?? [-1, 1], resize: false },
      clip: common.clip ?? null,
    },
  };
}

function transpose(m: Float64Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(m.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = m[r * cols + c]!;
  return out;
}

export interface GaussianSpec extends AnalyticCommon {
  mean: Float64Array;
  /** Orthonormal eigenvectors as columns of a row-major D×D matrix Q; default the identity. */
  basis?: Float64Array;
  /** Eigenvalues λ (variances along the columns of Q). */
  variances: Float64Array;
}

/** N(μ, QΛQᵀ): ε(x, t) = √(1−ā)·Q·diag(1/(āλ + 1 − ā))·Qᵀ·(x − √ā·μ). */
export function gaussianPrior(spec: GaussianSpec): AnalyticPrior {
  const s = scaffold(spec, 'gaussian');
  const { b, D } = s;
  if (spec.mean.length !== D) throw new InputError('mean', `expected ${D} values, got ${spec.mean.length}`);
  if (spec.variances.length !== D || !spec.variances.every((v) => v > 0))
    throw new InputError('variances', `expected ${D} positive values`);
  const mu = b.constant(F32, [1, D], spec.mean, 'mu');
  const lambda = b.constant(F32, [1, D], spec.variances, 'lambda');
  const diff = b.op('Sub', [s.flat, b.op('Mul', [s.sqrtAbar, mu])]);
  let z = diff;
  if (spec.basis) {
    if (spec.basis.length !== D * D) throw new InputError('basis', `expected a ${D}×${D} matrix`);
    z = b.op('MatMul', [diff, b.constant(F32, [D, D], spec.basis, 'Q')]);
  }
  const one = b.scalar(1, F32);
  const denom = b.op('Add', [b.op('Mul', [s.abar, lambda]), b.op('Sub', [one, s.abar])]);
  let scaled = b.op('Div', [z, denom]);
  if (spec.basis) scaled = b.op('MatMul', [scaled, b.constant(F32, [D, D], transpose(spec.basis, D, D), 'Qt')]);
  return finish(s, b.op('Mul', [s.sqrtOneMinus, scaled]), spec, 'gaussian');
}

export interface MixtureSpec extends AnalyticCommon {
  /** K component means, each of D values. */
  means: readonly ArrayLike<number>[];
  /** Per-component isotropic standard deviation s_k (0 for a delta). */
  stds: readonly number[];
  /** Mixture weights; default uniform. */
  weights?: readonly number[];
}

/**
 * Σ_k w_k N(μ_k, s_k² I): with c_k = ā s_k² + 1 − ā and responsibilities r = softmax_k(log w_k −
 * ‖x − √ā μ_k‖²/(2c_k) − (D/2) log c_k), ε = √(1−ā)·Σ_k r_k (x − √ā μ_k)/c_k.
 */
export function gaussianMixturePrior(spec: MixtureSpec): AnalyticPrior {
  const s = scaffold(spec, 'gaussian_mixture');
  const { b, D } = s;
  const K = spec.means.length;
  if (K === 0) throw new InputError('means', 'expected at least one component');
  if (spec.stds.length !== K || !spec.stds.every((v) => v >= 0))
    throw new InputError('stds', `expected ${K} non-negative values`);
  const weights = spec.weights ?? new Array<number>(K).fill(1 / K);
  if (weights.length !== K || !weights.every((v) => v > 0))
    throw new InputError('weights', `expected ${K} positive values`);
  const M = new Float64Array(K * D);
  spec.means.forEach((mu, k) => {
    if (mu.length !== D) throw new InputError(`means[${k}]`, `expected ${D} values, got ${mu.length}`);
    M.set(Array.from(mu), k * D);
  });
  const norms = Float64Array.from({ length: K }, (_, k) =>
    M.subarray(k * D, (k + 1) * D).reduce((a, v) => a + v * v, 0),
  );
  const one = b.scalar(1, F32);
  const x = s.flat;
  const Mt = b.constant(F32, [D, K], transpose(M, K, D), 'means_t');
  const onesD = b.constant(F32, [D, 1], new Float64Array(D).fill(1), 'ones_d');
  const onesK = b.constant(F32, [K, 1], new Float64Array(K).fill(1), 'ones_k');
  // ‖x − √ā μ_k‖² = ‖x‖² − 2√ā x·μ_k + ā‖μ_k‖², all [N, K].
  const xx = b.op('MatMul', [b.op('Mul', [x, x]), onesD]);
  const xm = b.op('MatMul', [x, Mt]);
  const dist = b.op('Add', [
    b.op('Sub', [xx, b.op('Mul', [b.op('Mul', [b.scalar(2, F32), s.sqrtAbar]), xm])]),
    b.op('Mul', [s.abar, b.constant(F32, [1, K], norms, 'mean_norms')]),
  ]);
  const c = b.op('Add', [
    b.op('Mul', [
      s.abar,
      b.constant(
        F32,
        [1, K],
        spec.stds.map((v) => v * v),
        'variances',
      ),
    ]),
    b.op('Sub', [one, s.abar]),
  ]);
  const logits = b.op('Sub', [
    b.op('Sub', [
      b.constant(F32, [1, K], weights.map(Math.log), 'log_weights'),
      b.op('Div', [dist, b.op('Mul', [b.scalar(2, F32), c])]),
    ]),
    b.op('Mul', [b.scalar(D / 2, F32), b.op('Log', [c])]),
  ]);
  // Softmax over components, shifted by a rounded max: the shift is a constant to gradients (Round has none).
  const max =
    b.opset >= 18
      ? b.op('ReduceMax', [logits, b.int64s([1], 'axes')], { keepdims: 1 })
      : b.op('ReduceMax', [logits], { axes: [1], keepdims: 1 });
  const shift = b.op('Round', [max]);
  const e = b.op('Exp', [b.op('Sub', [logits, shift])]);
  const r = b.op('Div', [e, b.op('MatMul', [e, onesK])]);
  const rc = b.op('Div', [r, c]);
  const M32 = b.constant(F32, [K, D], M, 'means');
  const inner = b.op('Sub', [
    b.op('Mul', [x, b.op('MatMul', [rc, onesK])]),
    b.op('Mul', [s.sqrtAbar, b.op('MatMul', [rc, M32])]),
  ]);
  return finish(s, b.op('Mul', [s.sqrtOneMinus, inner]), spec, 'gaussian_mixture');
}

/** The empirical distribution of a few images: equal-weight deltas (exact ε for t with ᾱ_t < 1). */
export function empiricalPrior(images: readonly Float32Array[], common: AnalyticCommon): AnalyticPrior {
  const prior = gaussianMixturePrior({ ...common, means: images, stds: images.map(() => 0) });
  prior.manifest.name = 'empirical';
  prior.manifest.denoiser.file = 'empirical.onnx';
  return prior;
}

export interface GaussianFlowSpec extends AnalyticCommon {
  mean: Float64Array;
  /** Per-coordinate standard deviations s_j of the data. */
  stds: Float64Array;
}

/**
 * A flow-matching prior for data N(μ, diag(s²)) on the linear path x_t = t·x₁ + (1−t)·x₀, x₀ ~ N(0, I):
 * v(x, t) = E[x₁ − x₀ | x_t] = μ + (t s² − (1−t))/(t² s² + (1−t)²) · (x − tμ). Inputs `x`, `t` float32 [N].
 */
export function gaussianFlowPrior(spec: GaussianFlowSpec): AnalyticPrior {
  const [c, h, w] = spec.shape;
  const D = c * h * w;
  if (spec.mean.length !== D || spec.stds.length !== D) throw new InputError('mean', `expected ${D} means and stds`);
  const m: Model = emptyModel(
    'gaussian_flow',
    spec.opset ?? 17,
    [
      { name: 'x', dataType: F32, shape: ['N', c, h, w] },
      { name: 't', dataType: F32, shape: ['N'] },
    ],
    [{ name: 'velocity', dataType: F32, shape: ['N', c, h, w] }],
  );
  const b = GraphBuilder.forModel(m);
  const one = b.scalar(1, F32);
  const t = b.unsqueeze('t', [1]);
  const s = b.op('Sub', [one, t]);
  const mu = b.constant(F32, [1, D], spec.mean, 'mu');
  const s2 = b.constant(
    F32,
    [1, D],
    spec.stds.map((v) => v * v),
    'variances',
  );
  const flat = b.op('Reshape', ['x', b.int64s([-1, D], 'flat_shape')]);
  const centred = b.op('Sub', [flat, b.op('Mul', [t, mu])]);
  const ts2 = b.op('Mul', [t, s2]);
  const denom = b.op('Add', [b.op('Mul', [t, ts2]), b.op('Mul', [s, s])]);
  const gain = b.op('Div', [b.op('Sub', [ts2, s]), denom]);
  const v = b.op('Add', [mu, b.op('Mul', [gain, centred])]);
  b.op('Reshape', [v, b.int64s([-1, c, h, w], 'image_shape')], undefined, 'velocity');
  return {
    model: m,
    manifest: {
      version: 1,
      kind: 'prior',
      type: 'flow',
      name: 'gaussian_flow',
      denoiser: {
        file: 'gaussian_flow.onnx',
        input: 'x',
        timestep: 't',
        output: 'velocity',
        prediction: 'velocity',
        varianceChannels: false,
      },
      image: { channels: c, height: h, width: w, range: spec.range ?? [-1, 1], resize: false },
      clip: spec.clip ?? null,
    },
  };
}

/** Eigen-decomposition of a symmetric D×D matrix (cyclic Jacobi): S = Q·diag(values)·Qᵀ, Q's columns orthonormal. */
export function symmetricEigen(S: Float64Array, D: number): { values: Float64Array; basis: Float64Array } {
  const a = Float64Array.from(S);
  const q = new Float64Array(D * D);
  for (let i = 0; i < D; i++) q[i * D + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let i = 0; i < D; i++) for (let j = i + 1; j < D; j++) off += a[i * D + j]! ** 2;
    if (off < 1e-24) break;
    for (let p = 0; p < D; p++)
      for (let r = p + 1; r < D; r++) {
        const apr = a[p * D + r]!;
        if (Math.abs(apr) < 1e-300) continue;
        const theta = (a[r * D + r]! - a[p * D + p]!) / (2 * apr);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const cs = 1 / Math.sqrt(t * t + 1);
        const sn = t * cs;
        for (let k = 0; k < D; k++) {
          const akp = a[k * D + p]!;
          const akr = a[k * D + r]!;
          a[k * D + p] = cs * akp - sn * akr;
          a[k * D + r] = sn * akp + cs * akr;
        }
        for (let k = 0; k < D; k++) {
          const apk = a[p * D + k]!;
          const ark = a[r * D + k]!;
          a[p * D + k] = cs * apk - sn * ark;
          a[r * D + k] = sn * apk + cs * ark;
        }
        for (let k = 0; k < D; k++) {
          const qkp = q[k * D + p]!;
          const qkr = q[k * D + r]!;
          q[k * D + p] = cs * qkp - sn * qkr;
          q[k * D + r] = sn * qkp + cs * qkr;
        }
      }
  }
  return { values: Float64Array.from({ length: D }, (_, i) => a[i * D + i]!), basis: q };
}

/** A linear extractor φ(x) = A·vec(x) (A row-major [features × size]) with the `l2` loss: fibers are affine subspaces. */
export function linearExtractor(
  A: Float64Array,
  featureDim: number,
  shape: readonly number[],
  opset = 17,
): { manifest: ExtractorManifest; model: Model } {
  const D = shape.reduce((a, b) => a * b, 1);
  if (A.length !== featureDim * D)
    throw new InputError('A', `expected a ${featureDim}×${D} matrix, got ${A.length} values`);
  const model: Model = emptyModel(
    'linear',
    opset,
    [{ name: 'pixels', dataType: F32, shape: ['N', ...shape] }],
    [{ name: 'features', dataType: F32, shape: ['N', featureDim] }],
  );
  const b = GraphBuilder.forModel(model);
  const flat = b.op('Reshape', ['pixels', b.int64s([-1, D], 'flat_shape')]);
  b.op('MatMul', [flat, b.constant(F32, [D, featureDim], transpose(A, featureDim, D), 'A_t')], undefined, 'features');
  return {
    manifest: {
      version: 1,
      kind: 'extractor',
      name: 'linear',
      model: { file: 'linear.onnx', input: 'pixels', output: 'features' },
      preprocess: [],
      loss: 'l2',
      metric: 'squared_l2',
    },
    model,
  };
}
