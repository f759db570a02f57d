/**
 * Known-answer check of the whole sampler on ONNX: a Gaussian prior N(μ, Σ) (D = 64, Σ = QΛQᵀ) and
 * a linear extractor A (8 × 64). The exact fiber posterior is Gaussian: mean μ + ΣAᵀ(AΣAᵀ)⁻¹(y − Aμ),
 * covariance Σ − ΣAᵀ(AΣAᵀ)⁻¹AΣ, supported on A's null space. Prints, over K samples, the mean relative
 * constraint residual ‖Ax − y‖/‖Aμ − y‖ (target ≤ 0.05) and the ratio of the samples' variance in A's
 * null space to the exact posterior's (target in [0.8, 1.25]).
 *
 *   node --import tsx bench/known-answer.ts [--steps 200] [--inner 5] [--lr 0.05] [--gamma 2] [--samples 64]
 */
import { OnnxFiberObjective } from '../engine/guidance/compose.ts';
import type { SamplerOptionsInput } from '../engine/guidance/options.ts';
import { resolveSamplerOptions } from '../engine/guidance/options.ts';
import { sampleFiber } from '../engine/guidance/sampler.ts';
import { gaussianPrior, linearExtractor, symmetricEigen } from '../engine/priors/analytic.ts';
import { gaussian } from '../engine/random/philox.ts';

export interface KnownAnswerSettings {
  samples: number;
  sampler: SamplerOptionsInput;
  /** Seed of the problem (Σ, μ, A, the query), separate from the sampler's seed. */
  problemSeed?: bigint;
}

export interface KnownAnswerFigures {
  residual: number;
  nullVarianceRatio: number;
  /** RMS of (sample mean − posterior mean) in the null space over the posterior's RMS std there. */
  meanErrorInStd: number;
  unguidedResidual: number;
  seconds: number;
}

const D = 64;
const F = 8;
const SHAPE: [number, number, number] = [1, 8, 8];

function matmul(a: Float64Array, b: Float64Array, n: number, k: number, m: number): Float64Array {
  const out = new Float64Array(n * m);
  for (let i = 0; i < n; i++)
    for (let p = 0; p < k; p++) {
      const aip = a[i * k + p]!;
      if (aip !== 0) for (let j = 0; j < m; j++) out[i * m + j]! += aip * b[p * m + j]!;
    }
  return out;
}

function transpose(a: Float64Array, n: number, m: number): Float64Array {
  const out = new Float64Array(n * m);
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) out[j * n + i] = a[i * m + j]!;
  return out;
}

function inverse(a: Float64Array, n: number): Float64Array {
  const aug = Array.from({ length: n }, (_, i) => [
    ...a.subarray(i * n, (i + 1) * n),
    ...Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)),
  ]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let i = c + 1; i < n; i++) if (Math.abs(aug[i]![c]!) > Math.abs(aug[p]![c]!)) p = i;
    [aug[c], aug[p]] = [aug[p]!, aug[c]!];
    const pivot = aug[c]![c]!;
    for (let k = 0; k < 2 * n; k++) aug[c]![k]! /= pivot;
    for (let i = 0; i < n; i++)
      if (i !== c) {
        const f = aug[i]![c]!;
        for (let k = 0; k < 2 * n; k++) aug[i]![k]! -= f * aug[c]![k]!;
      }
  }
  return Float64Array.from(aug.flatMap((row) => row.slice(n)));
}

/** Orthonormal basis (columns, D × (D − F)) of A's null space: Gram–Schmidt of [Aᵀ | I], keeping the I part. */
function nullBasis(A: Float64Array): Float64Array {
  const vecs: Float64Array[] = [];
  const candidates = [
    ...Array.from({ length: F }, (_, f) => A.slice(f * D, (f + 1) * D)),
    ...Array.from({ length: D }, (_, j) => Float64Array.from({ length: D }, (_, i) => (i === j ? 1 : 0))),
  ];
  for (const v of candidates) {
    const w = Float64Array.from(v);
    for (let pass = 0; pass < 2; pass++)
      for (const q of vecs) {
        let dot = 0;
        for (let i = 0; i < D; i++) dot += w[i]! * q[i]!;
        for (let i = 0; i < D; i++) w[i]! -= dot * q[i]!;
      }
    const norm = Math.sqrt(w.reduce((s, x) => s + x * x, 0));
    if (norm > 1e-8) vecs.push(w.map((x) => x / norm));
    if (vecs.length === D) break;
  }
  const N = vecs.slice(F);
  const out = new Float64Array(D * N.length);
  N.forEach((q, c) => q.forEach((x, i) => (out[i * N.length + c] = x)));
  return out;
}

export async function runKnownAnswer(settings: KnownAnswerSettings): Promise<KnownAnswerFigures> {
  const seed = settings.problemSeed ?? 7n;
  const draw = (n: number, id: string) => {
    const out = new Float32Array(n);
    gaussian({ seed, imageId: id, sampleIndex: 0 }, 'x_T', 0, out);
    return Float64Array.from(out);
  };
  // Σ = QΛQᵀ with a random orthonormal Q and variances spread over [0.25, 2.25].
  const G = draw(D * D, 'basis');
  const { basis: Q } = symmetricEigen(matmul(G, transpose(G, D, D), D, D, D), D);
  const lambda = Float64Array.from({ length: D }, (_, i) => 0.25 + (2 * i) / (D - 1));
  const Sigma = matmul(
    matmul(
      Q,
      Float64Array.from({ length: D * D }, (_, i) => (i % (D + 1) === 0 ? lambda[i / (D + 1)]! : 0)),
      D,
      D,
      D,
    ),
    transpose(Q, D, D),
    D,
    D,
    D,
  );
  const mu = draw(D, 'mean').map((v) => 0.3 * v);
  const A = draw(F * D, 'A').map((v) => v / Math.sqrt(D));
  const L = symmetricEigen(Sigma, D);
  // The query is a draw from the prior: μ + QΛ^½Qᵀz.
  const z = draw(D, 'query');
  const whitened = matmul(transpose(L.basis, D, D), z, D, D, 1).map((v, i) => Math.sqrt(L.values[i]!) * v);
  const offset = matmul(L.basis, whitened, D, D, 1);
  const query = Float32Array.from(mu, (m, i) => m + offset[i]!);
  const y = matmul(A, Float64Array.from(query), F, D, 1);

  // Exact fiber posterior.
  const SAt = matmul(Sigma, transpose(A, F, D), D, D, F);
  const gain = matmul(SAt, inverse(matmul(A, SAt, F, D, F), F), D, F, F);
  const Amu = matmul(A, mu, F, D, 1);
  const postMean = mu.map(
    (m, i) =>
      m +
      matmul(
        gain,
        y.map((v, f) => v - Amu[f]!),
        D,
        F,
        1,
      )[i]!,
  );
  const postCov = Sigma.map((s, idx) => s - matmul(gain, transpose(SAt, D, F), D, F, D)[idx]!);
  const N = nullBasis(A);
  const R = D - F;
  const postNull = matmul(matmul(transpose(N, D, R), postCov, R, D, D), N, R, D, R);
  let postTrace = 0;
  for (let i = 0; i < R; i++) postTrace += postNull[i * R + i]!;

  const prior = gaussianPrior({ shape: SHAPE, mean: mu, basis: L.basis, variances: L.values });
  const objective = await OnnxFiberObjective.create(
    { manifest: prior.manifest, denoiser: prior.model },
    linearExtractor(A, F, SHAPE),
  );
  const options = resolveSamplerOptions(settings.sampler, objective.prior);
  const K = settings.samples;
  const q = { imageId: 'query', image: query, sampleIndices: Array.from({ length: K }, (_, k) => k) };
  const started = performance.now();
  const result = await sampleFiber(objective, [q], options);
  const seconds = (performance.now() - started) / 1000;
  const unguided = await sampleFiber(objective, [q], { ...options, variant: 'unguided' });

  const baseline = Math.sqrt(Amu.reduce((s, v, f) => s + (v - y[f]!) ** 2, 0));
  const residualOf = (samples: Float32Array) => {
    let total = 0;
    for (let k = 0; k < K; k++) {
      const Ax = matmul(A, Float64Array.from(samples.subarray(k * D, (k + 1) * D)), F, D, 1);
      total += Math.sqrt(Ax.reduce((s, v, f) => s + (v - y[f]!) ** 2, 0)) / baseline;
    }
    return total / K;
  };
  // Samples' covariance in the null space.
  const coords = Array.from({ length: K }, (_, k) =>
    matmul(transpose(N, D, R), Float64Array.from(result.samples.subarray(k * D, (k + 1) * D)), R, D, 1),
  );
  const meanCoord = new Float64Array(R);
  for (const c of coords) c.forEach((v, i) => (meanCoord[i]! += v / K));
  let sampleTrace = 0;
  for (const c of coords) c.forEach((v, i) => (sampleTrace += (v - meanCoord[i]!) ** 2 / (K - 1)));
  const postMeanCoord = matmul(transpose(N, D, R), postMean, R, D, 1);
  const meanErr = Math.sqrt(meanCoord.reduce((s, v, i) => s + (v - postMeanCoord[i]!) ** 2, 0) / R);
  return {
    residual: residualOf(result.samples),
    nullVarianceRatio: sampleTrace / postTrace,
    meanErrorInStd: meanErr / Math.sqrt(postTrace / R),
    unguidedResidual: residualOf(unguided.samples),
    seconds,
  };
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const gamma = arg('gamma', 2);
  const settings: KnownAnswerSettings = {
    samples: arg('samples', 64),
    sampler: {
      preset: 'cue-conflict',
      steps: arg('steps', 200),
      innerSteps: arg('inner', 5),
      lr: arg('lr', 0.05),
      gamma: [{ start: gamma, end: gamma, tStart: 1000, tEnd: 0 }],
      update: {
        kind: 'ancestral',
        variance: 'small',
        respacing: process.argv.includes('--as-released') ? 'as-released' : 'exact',
      },
      variant: process.argv.includes('--static') ? 'static-target' : 'ndtm',
      seed: BigInt(arg('seed', 1)),
    },
    problemSeed: BigInt(arg('problem', 7)),
  };
  const f = await runKnownAnswer(settings);
  console.log(JSON.stringify(settings.sampler, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
  console.log(
    `residual ‖Ax−y‖/‖Aμ−y‖ = ${f.residual.toFixed(4)} (unguided ${f.unguidedResidual.toFixed(3)}), ` +
      `null-space variance ratio = ${f.nullVarianceRatio.toFixed(3)}, null-space mean error = ${f.meanErrorInStd.toFixed(3)} posterior std, ` +
      `${f.seconds.toFixed(1)} s for ${settings.samples} samples`,
  );
}
