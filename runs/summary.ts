import { probeFiringRates } from '../engine/metrics/probes.ts';
import type { ImageRow } from '../store/image-tables.ts';
import type { SampleRow } from '../store/sample-rows.ts';

/**
 * The run summary (`summary.json`) as a model of its own: the summarize activity computes it, the
 * report and dashboard render it, the gate and catalogue read it.
 */

export interface Quantiles {
  count: number;
  min: number | null;
  p25: number | null;
  median: number | null;
  p75: number | null;
  max: number | null;
  mean: number | null;
}

export interface ProbeRate {
  probe: string;
  /** Fraction of ok samples whose nearest probe is this one. */
  sampleRate: number;
  /** Fraction of ok images with at least one sample nearest to this probe. */
  imageRate: number;
}

/** Run-level summary (`summary.json`): what dashboards, the report and the CI gate read. */
export interface RunSummary {
  runId: string;
  prior: string;
  extractor: string;
  variant: string;
  fiberMetricName: string;
  images: { total: number; ok: number; error: number };
  samples: { total: number; ok: number; error: number };
  /** The invariance profile, strongest first; `none` means the sample is nearest the query itself. */
  probes: ProbeRate[];
  fiberMetric: Quantiles;
  cost: Quantiles;
  pixelDistance: Quantiles;
  diversity: Quantiles;
  nnBaseline: Quantiles;
  /** Median over images of fiber_metric_mean / nn_baseline (below 1: samples closer than any real image). */
  fiberToNeighbourRatio: number | null;
  seconds: { perSampleMedian: number | null };
}

export function quantiles(values: readonly (number | null)[]): Quantiles {
  const xs = values.filter((v): v is number => v !== null && Number.isFinite(v)).sort((a, b) => a - b);
  const at = (q: number) => (xs.length === 0 ? null : xs[Math.min(xs.length - 1, Math.floor(q * (xs.length - 1) + 0.5))]!);
  return {
    count: xs.length,
    min: xs[0] ?? null,
    p25: at(0.25),
    median: at(0.5),
    p75: at(0.75),
    max: xs.at(-1) ?? null,
    mean: xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0) / xs.length,
  };
}

/** Per probe: how often it is the nearest transform, over samples and over images. */
export function invarianceProfile(samples: readonly SampleRow[], probeNames: readonly string[]): ProbeRate[] {
  const ok = samples.filter((r) => r.status === 'ok' && r.nearest_probe !== null);
  const images = new Map<string, Set<string>>();
  for (const r of ok) {
    const set = images.get(r.image_id) ?? new Set<string>();
    set.add(r.nearest_probe!);
    images.set(r.image_id, set);
  }
  const sampleRates = probeFiringRates(ok.map((r) => r.nearest_probe!), probeNames);
  return [...probeNames, 'none']
    .map((probe) => ({
      probe,
      sampleRate: sampleRates.get(probe) ?? 0,
      imageRate: images.size === 0 ? 0 : [...images.values()].filter((s) => s.has(probe)).length / images.size,
    }))
    .sort((a, b) => b.sampleRate - a.sampleRate || a.probe.localeCompare(b.probe));
}

/**
 * One image's fiber metric (mean over its samples) over its nearest-real-neighbour baseline: scale-free,
 * below 1 when the samples are closer to the query than any other real image. Null without both.
 */
export function fiberToNeighbourRatio(row: Pick<ImageRow, 'fiber_metric_mean' | 'nn_baseline'>): number | null {
  return row.fiber_metric_mean !== null && row.nn_baseline !== null && row.nn_baseline > 0 ? row.fiber_metric_mean / row.nn_baseline : null;
}
