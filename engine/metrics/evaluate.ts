/**
 * Per-sample and per-image figures of a sampling result (DESIGN "Metrics and probes"): the reported
 * fiber metric, pixel distance, probe distances and nearest probe; per image the diversity of its
 * samples and the nearest-real-neighbour baseline when reference features are given.
 */
import type { FiberSamples } from '../guidance/sampler.ts';
import type { FiberMetricName, ReferenceFeatures } from './fiber.ts';
import { FIBER_METRICS, diversity, nearestNeighbour } from './fiber.ts';
import type { ChwShape, ProbeName } from './probes.ts';
import { PROBE_NAMES, probeSample, probeTargets } from './probes.ts';

export interface SampleFigures {
  imageId: string;
  sampleIndex: number;
  /** The sample, its features and its cost are finite; otherwise it is an error row and its figures are NaN. */
  ok: boolean;
  cost: number;
  fiberMetric: number;
  pixelDistance: number;
  /** Every configured probe; NaN where it does not apply to the image shape. */
  probes: Record<string, number>;
  nearestProbe: ProbeName | 'none';
}

/** Per query image, over its finite samples. */
export interface ImageFigures {
  imageId: string;
  samples: number;
  okSamples: number;
  /** Mean pairwise RMS distance of the samples; NaN below two. */
  diversity: number;
  meanCost: number;
  meanFiberMetric: number;
  meanPixelDistance: number;
  /** The probe most samples are nearest to (`none`: the query itself), and the fraction of samples that are. */
  topProbe: ProbeName | 'none' | null;
  topProbeRate: number;
  /** Squared-L2 feature distance to the closest other reference image; NaN without references. */
  nearestNeighbour: number;
  nearestNeighbourId: string | null;
}

export interface EvaluateOptions {
  metric: FiberMetricName;
  /** One image's shape, [C, H, W]. */
  shape: ChwShape;
  range: readonly [number, number];
  probes?: readonly ProbeName[];
  references?: readonly ReferenceFeatures[];
}

/** Figures for a result of `sampleFiber` whose queries are `queries` (same order as passed to it). */
export function evaluateSamples(
  result: FiberSamples,
  queries: readonly { imageId: string; image: Float32Array }[],
  options: EvaluateOptions,
): { samples: SampleFigures[]; images: ImageFigures[] } {
  const names = options.probes ?? PROBE_NAMES;
  const size = options.shape[0] * options.shape[1] * options.shape[2];
  const F = result.features.length / result.items.length;
  const metric = FIBER_METRICS[options.metric];
  const targets = queries.map((q) => probeTargets(q.image, options.shape, options.range, names));
  const samples = result.items.map((item, b): SampleFigures => {
    const sample = result.samples.subarray(b * size, (b + 1) * size);
    const queryFeatures = result.queryFeatures.subarray(b * F, (b + 1) * F);
    const features = result.features.subarray(b * F, (b + 1) * F);
    const cost = result.cost[b]!;
    const ok = result.finite[b]! && features.every(Number.isFinite) && Number.isFinite(cost);
    if (!ok) {
      return { imageId: item.imageId, sampleIndex: item.sampleIndex, ok, cost: NaN, fiberMetric: NaN, pixelDistance: NaN, probes: {}, nearestProbe: 'none' };
    }
    const p = probeSample(sample, queries[item.query]!.image, targets[item.query]!);
    return {
      imageId: item.imageId,
      sampleIndex: item.sampleIndex,
      ok,
      cost,
      fiberMetric: metric(queryFeatures, features),
      pixelDistance: p.pixelDistance,
      probes: Object.fromEntries(names.map((n) => [n, p.distances.get(n) ?? Number.NaN])),
      nearestProbe: p.nearest,
    };
  });
  const images = queries.map((q, qi): ImageFigures => {
    const all = result.items.flatMap((it, b) => (it.query === qi ? [b] : []));
    const rows = all.filter((b) => samples[b]!.ok);
    const stacked = new Float32Array(rows.length * size);
    rows.forEach((b, j) => stacked.set(result.samples.subarray(b * size, (b + 1) * size), j * size));
    const mean = (f: (b: number) => number) => (rows.length ? rows.reduce((s, b) => s + f(b), 0) / rows.length : NaN);
    const counts = new Map<ProbeName | 'none', number>();
    for (const b of rows) counts.set(samples[b]!.nearestProbe, (counts.get(samples[b]!.nearestProbe) ?? 0) + 1);
    const top = [...counts].sort((x, y) => y[1] - x[1])[0];
    const nn =
      options.references && all.length
        ? nearestNeighbour(q.imageId, result.queryFeatures.subarray(all[0]! * F, (all[0]! + 1) * F), options.references)
        : { id: null, squaredL2: Number.NaN };
    return {
      imageId: q.imageId,
      samples: all.length,
      okSamples: rows.length,
      diversity: diversity(stacked, rows.length),
      meanCost: mean((b) => result.cost[b]!),
      meanFiberMetric: mean((b) => samples[b]!.fiberMetric),
      meanPixelDistance: mean((b) => samples[b]!.pixelDistance),
      topProbe: top ? top[0] : null,
      topProbeRate: top ? top[1] / rows.length : NaN,
      nearestNeighbour: nn.squaredL2,
      nearestNeighbourId: nn.id,
    };
  });
  return { samples, images };
}
