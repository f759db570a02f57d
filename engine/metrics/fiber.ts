/**
 * Reported fiber metrics (METHOD §2): they differ from the optimised loss and are reported per model,
 * plus pixel distance, per-image diversity and the nearest-real-neighbour baseline.
 */
import { InputError } from '../errors.ts';
import { softmax } from '../guidance/losses.ts';

export type FiberMetricName = 'squared_l2' | 'rms' | 'probability_distance';

/** Metric between the query's features a = φ(x₀) and a sample's b = φ(x̃). */
export const FIBER_METRICS: Record<FiberMetricName, (a: ArrayLike<number>, b: ArrayLike<number>) => number> = {
  squared_l2: (a, b) => {
    let s = 0;
    for (let j = 0; j < a.length; j++) s += (a[j]! - b[j]!) ** 2;
    return s;
  },
  rms: (a, b) => Math.sqrt(FIBER_METRICS.squared_l2(a, b) / a.length),
  /** 100·Σ_c |softmax(a)_c − softmax(b)_c|, in percent (0..200). */
  probability_distance: (a, b) => {
    const p = softmax(a);
    const q = softmax(b);
    let s = 0;
    for (let j = 0; j < p.length; j++) s += Math.abs(p[j]! - q[j]!);
    return 100 * s;
  },
};

export function fiberMetric(name: string, input = 'metric'): (a: ArrayLike<number>, b: ArrayLike<number>) => number {
  const metric = FIBER_METRICS[name as FiberMetricName];
  if (!metric) throw new InputError(input, `expected one of ${Object.keys(FIBER_METRICS).join(', ')}, got ${name}`);
  return metric;
}

/** RMS distance between two images (in the prior's range). */
export function rmsDistance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`size mismatch ${a.length} vs ${b.length}`);
  let s = 0;
  for (let j = 0; j < a.length; j++) s += (a[j]! - b[j]!) ** 2;
  return Math.sqrt(s / a.length);
}

/** Mean pairwise RMS distance of K samples laid out [K × size]; NaN for fewer than two. */
export function diversity(samples: Float32Array, count: number): number {
  if (count < 2) return Number.NaN;
  const size = samples.length / count;
  let total = 0;
  let pairs = 0;
  for (let a = 0; a < count; a++)
    for (let b = a + 1; b < count; b++) {
      total += rmsDistance(samples.subarray(a * size, (a + 1) * size), samples.subarray(b * size, (b + 1) * size));
      pairs += 1;
    }
  return total / pairs;
}

export interface ReferenceFeatures {
  id: string;
  features: ArrayLike<number>;
}

/**
 * Nearest-real-neighbour baseline: squared-L2 feature distance from the query to the closest OTHER
 * reference image (the query's own id is skipped). NaN when there is no other reference.
 */
export function nearestNeighbour(
  queryId: string,
  queryFeatures: ArrayLike<number>,
  references: readonly ReferenceFeatures[],
): { id: string | null; squaredL2: number } {
  let best: { id: string | null; squaredL2: number } = { id: null, squaredL2: Number.NaN };
  for (const r of references) {
    if (r.id === queryId) continue;
    if (r.features.length !== queryFeatures.length) {
      throw new InputError(`reference ${r.id}`, `expected ${queryFeatures.length} features, got ${r.features.length}`);
    }
    const d = FIBER_METRICS.squared_l2(queryFeatures, r.features);
    if (best.id === null || d < best.squaredL2) best = { id: r.id, squaredL2: d };
  }
  return best;
}
