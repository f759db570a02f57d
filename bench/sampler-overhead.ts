/**
 * Where sampling time goes: the share spent in the objective's graph calls versus the sampler's own
 * TypeScript (Adam, updates, random draws), for an analytic Gaussian prior + linear extractor at a few
 * state sizes and batch sizes.
 *
 *   node --import tsx bench/sampler-overhead.ts
 */
import { OnnxFiberObjective } from '../engine/guidance/compose.ts';
import type { FiberObjective } from '../engine/guidance/objective.ts';
import { resolveSamplerOptions } from '../engine/guidance/options.ts';
import { sampleFiber } from '../engine/guidance/sampler.ts';
import { gaussianPrior, linearExtractor } from '../engine/priors/analytic.ts';

/** The same objective with the wall time of every call added up. */
function timed(inner: FiberObjective): { objective: FiberObjective; ms: () => number } {
  let total = 0;
  const wrap =
    <A extends unknown[], R>(f: (...a: A) => Promise<R>) =>
    async (...a: A): Promise<R> => {
      const t0 = performance.now();
      try {
        return await f(...a);
      } finally {
        total += performance.now() - t0;
      }
    };
  const objective: FiberObjective = {
    prior: inner.prior,
    loss: inner.loss,
    featureDim: inner.featureDim,
    predict: wrap(inner.predict.bind(inner)),
    features: wrap(inner.features.bind(inner)),
    imageFeatures: wrap(inner.imageFeatures.bind(inner)),
    costGrad: wrap(inner.costGrad.bind(inner)),
  };
  return { objective, ms: () => total };
}

for (const side of [8, 32, 64]) {
  const D = 3 * side * side;
  const shape: [number, number, number] = [3, side, side];
  const prior = gaussianPrior({
    shape,
    mean: new Float64Array(D),
    variances: new Float64Array(D).fill(1),
    clip: [-1, 1],
  });
  const A = Float64Array.from({ length: 16 * D }, (_, i) => Math.sin(i) / Math.sqrt(D));
  const onnx = await OnnxFiberObjective.create(
    { manifest: prior.manifest, denoiser: prior.model },
    linearExtractor(A, 16, shape),
  );
  for (const batch of [1, 8]) {
    const { objective, ms } = timed(onnx);
    const options = resolveSamplerOptions({ preset: 'cue-conflict', steps: 50, seed: 1n }, objective.prior);
    const query = {
      imageId: 'q',
      image: new Float32Array(D).fill(0.1),
      sampleIndices: Array.from({ length: batch }, (_, k) => k),
    };
    await sampleFiber(objective, [query], { ...options, steps: 25 }); // warm-up: builds the graphs
    const before = ms();
    const t0 = performance.now();
    await sampleFiber(objective, [query], options);
    const wall = performance.now() - t0;
    const inGraphs = ms() - before;
    console.log(
      `state 3×${side}×${side}, batch ${batch}: ${(wall / 1000).toFixed(2)} s for 50 steps × N=5; ` +
        `graph calls ${((100 * inGraphs) / wall).toFixed(0)}%, sampler TypeScript ${((100 * (wall - inGraphs)) / wall).toFixed(0)}%`,
    );
  }
}
