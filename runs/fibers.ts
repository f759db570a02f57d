import { InputError } from '../engine/errors.ts';
import { sampleFiber } from '../engine/guidance/sampler.ts';
import type { FiberQuery, SampleFiberHooks } from '../engine/guidance/sampler.ts';
import type { FiberObjective, PriorInfo } from '../engine/guidance/objective.ts';
import { sizeOf } from '../engine/guidance/objective.ts';
import type { SamplerOptions } from '../engine/guidance/options.ts';
import { evaluateSamples } from '../engine/metrics/evaluate.ts';
import type { FiberMetricName } from '../engine/metrics/fiber.ts';
import type { ChwShape, ProbeName } from '../engine/metrics/probes.ts';
import { decodeImage } from '../store/images.ts';
import { readNpy } from '../store/npy.ts';
import type { ImageRow } from '../store/image-tables.ts';
import { failedSampleRow } from '../store/sample-rows.ts';
import type { SampleRow } from '../store/sample-rows.ts';

/*
 * From decoded queries to a run's rows: the engine's sampler and metrics, measured into sample and
 * image rows. Shared by the shard activity and `fiberscope sample`.
 */

/** A (prior, extractor) pair ready to sample, loaded once per worker process and reused. */
export interface LoadedPair {
  objective: FiberObjective;
  metric: FiberMetricName;
}

/** Decodes one query (PNG/JPEG/.npy) into the prior's image shape and range; bad input is an InputError naming it. */
export function decodeQuery(bytes: Uint8Array, name: string, key: string, prior: PriorInfo, resize: boolean): Float32Array {
  const shape = prior.imageShape as unknown as ChwShape;
  const [channels, height, width] = shape;
  let image: Float32Array;
  if (key.toLowerCase().endsWith('.npy')) {
    const arr = readNpy(bytes, name);
    if (arr.data.length !== sizeOf(shape)) {
      throw new InputError(name, `expected a float32 .npy of shape ${shape.join('×')} (C×H×W in the prior's range), got ${arr.shape.join('×')}`);
    }
    image = arr.data;
  } else {
    if (channels !== 1 && channels !== 3) throw new InputError('prior.image.channels', `PNG/JPEG queries need 1 or 3 channels, the prior has ${channels}`);
    image = decodeImage(bytes, { channels, range: prior.imageRange, height, width, resize }, name).data;
  }
  if (!image.every(Number.isFinite)) throw new InputError(name, 'contains NaN or infinite values');
  return image;
}

/** One query's fiber, measured: rows without storage keys yet, plus the finite samples to write. */
export interface MeasuredFiber {
  query: FiberQuery;
  rows: SampleRow[];
  /** Parallel to `rows`: the sample for ok rows, null for error rows. */
  samples: (Float32Array | null)[];
  image: ImageRow;
  queryFeatures: Float32Array;
}

/** Common columns of a run's rows. */
export interface RowContext {
  runId: string;
  seed: string;
  priorId: string;
  extractorId: string;
}

export function errorSampleRow(ctx: RowContext, variant: string, metric: string, imageId: string, k: number, error: string): SampleRow {
  return failedSampleRow(
    { run_id: ctx.runId, seed: ctx.seed, variant, prior_id: ctx.priorId, extractor_id: ctx.extractorId, fiber_metric_name: metric },
    imageId,
    k,
    error,
  );
}

export function errorImageRow(ctx: RowContext, metric: string, imageId: string, samples: number, error: string): ImageRow {
  return {
    run_id: ctx.runId,
    image_id: imageId,
    status: 'error',
    error,
    samples,
    samples_ok: 0,
    diversity: null,
    cost_mean: null,
    fiber_metric_mean: null,
    fiber_metric_name: metric,
    pixel_distance_mean: null,
    top_probe: null,
    top_probe_rate: null,
    nn_baseline: null,
    nn_image_id: null,
    query_key: null,
  };
}

/**
 * Runs the guided sampler on a batch of queries and measures every sample (METHOD §2, DESIGN
 * "Metrics and probes"): cost, fiber metric, pixel distance, probes; a non-finite sample becomes an
 * error row and the others go on.
 */
export async function measureFibers(
  pair: LoadedPair,
  options: SamplerOptions,
  probes: readonly ProbeName[],
  queries: FiberQuery[],
  ctx: RowContext,
  hooks: SampleFiberHooks = {},
): Promise<MeasuredFiber[]> {
  if (queries.length === 0) return [];
  const { objective } = pair;
  const shape = objective.prior.imageShape as unknown as ChwShape;
  const started = performance.now();
  const r = await sampleFiber(objective, queries, options, hooks);
  const perSample = (performance.now() - started) / 1000 / r.items.length;
  const figures = evaluateSamples(r, queries, { metric: pair.metric, shape, range: objective.prior.imageRange, probes });
  const size = sizeOf(shape);
  const featureDim = objective.featureDim;
  const finiteOrNull = (v: number) => (Number.isFinite(v) ? v : null);
  return queries.map((query, q) => {
    const mine = r.items.flatMap((it, b) => (it.query === q ? [b] : []));
    const rows = mine.map((b): SampleRow => {
      const f = figures.samples[b]!;
      if (!f.ok) return errorSampleRow(ctx, options.variant, pair.metric, f.imageId, f.sampleIndex, 'the sample contains NaN or infinite values');
      return {
        run_id: ctx.runId,
        seed: ctx.seed,
        variant: options.variant,
        prior_id: ctx.priorId,
        extractor_id: ctx.extractorId,
        fiber_metric_name: pair.metric,
        image_id: f.imageId,
        sample_index: f.sampleIndex,
        status: 'ok',
        error: null,
        cost: f.cost,
        fiber_metric: f.fiberMetric,
        pixel_distance: f.pixelDistance,
        probes: Object.fromEntries(Object.entries(f.probes).map(([n, d]) => [n, finiteOrNull(d)])),
        nearest_probe: f.nearestProbe,
        steps: r.method.steps,
        inner_steps: r.method.innerSteps,
        nfe_denoiser: r.nfe.denoiserForward + r.nfe.denoiserBackward,
        nfe_extractor: r.nfe.extractorForward + r.nfe.extractorBackward,
        seconds: perSample,
        image_key: null,
      };
    });
    const img = figures.images[q]!;
    const image: ImageRow = {
      ...errorImageRow(ctx, pair.metric, query.imageId, img.samples, ''),
      status: img.okSamples > 0 ? 'ok' : 'error',
      error: img.okSamples > 0 ? null : 'every sample was NaN or infinite',
      samples_ok: img.okSamples,
      diversity: finiteOrNull(img.diversity),
      cost_mean: finiteOrNull(img.meanCost),
      fiber_metric_mean: finiteOrNull(img.meanFiberMetric),
      pixel_distance_mean: finiteOrNull(img.meanPixelDistance),
      top_probe: img.topProbe,
      top_probe_rate: finiteOrNull(img.topProbeRate),
    };
    return {
      query,
      rows,
      samples: mine.map((b) => (figures.samples[b]!.ok ? r.samples.slice(b * size, (b + 1) * size) : null)),
      image,
      queryFeatures: r.queryFeatures.slice(mine[0]! * featureDim, (mine[0]! + 1) * featureDim),
    };
  });
}
