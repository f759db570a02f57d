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
  cost: number;
  fiberMetric: number;
  pixelDistance: number;
  /** Every configured probe; NaN where it does not apply to the image shape. */
  probes: Record<string, number>;
  nearestProbe: ProbeName | 'none';
}

export interface ImageFigures {
  imageId: string;
  samples: number;
  diversity: number;
  meanCost: number;
  meanFiberMetric: number;
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
    const p = probeSample(sample, queries[item.query]!.image, targets[item.query]!);
    return {
      imageId: item.imageId,
      sampleIndex: item.sampleIndex,
      cost: result.cost[b]!,
      fiberMetric: metric(
        result.queryFeatures.subarray(b * F, (b + 1) * F),
        result.features.subarray(b * F, (b + 1) * F),
      ),
      pixelDistance: p.pixelDistance,
      probes: Object.fromEntries(names.map((n) => [n, p.distances.get(n) ?? Number.NaN])),
      nearestProbe: p.nearest,
    };
  });
  const images = queries.map((q, qi): ImageFigures => {
    const rows = result.items.flatMap((it, b) => (it.query === qi ? [b] : []));
    const stacked = new Float32Array(rows.length * size);
    rows.forEach((b, j) => stacked.set(result.samples.subarray(b * size, (b + 1) * size), j * size));
    const mean = (f: (b: number) => number) => rows.reduce((s, b) => s + f(b), 0) / rows.length;
    const nn =
      options.references && rows.length
        ? nearestNeighbour(
            q.imageId,
            result.queryFeatures.subarray(rows[0]! * F, (rows[0]! + 1) * F),
            options.references,
          )
        : { id: null, squaredL2: Number.NaN };
    return {
      imageId: q.imageId,
      samples: rows.length,
      diversity: diversity(stacked, rows.length),
      meanCost: mean((b) => result.cost[b]!),
      meanFiberMetric: mean((b) => samples[b]!.fiberMetric),
      nearestNeighbour: nn.squaredL2,
      nearestNeighbourId: nn.id,
    };
  });
  return { samples, images };
}
