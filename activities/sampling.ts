import { InputError } from '../engine/errors.ts';
import { sampleFiber } from '../engine/guidance/sampler.ts';
import type { FiberQuery, SampleFiberHooks } from '../engine/guidance/sampler.ts';
import type { FiberObjective, PriorInfo } from '../engine/guidance/objective.ts';
import { sizeOf } from '../engine/guidance/objective.ts';
import type { SamplerOptions } from '../engine/guidance/options.ts';
import { evaluateSamples } from '../engine/metrics/evaluate.ts';
import type { FiberMetricName } from '../engine/metrics/fiber.ts';
import { validateProbes } from '../engine/metrics/probes.ts';
import type { ChwShape, ProbeName } from '../engine/metrics/probes.ts';
import { readDatasetEntry } from '../store/dataset.ts';
import type { DatasetEntry } from '../store/dataset.ts';
import { decodeImage, encodePng } from '../store/images.ts';
import { readNpy, writeNpy } from '../store/npy.ts';
import type { ObjectStore } from '../store/objects.ts';
import { runLayout } from '../store/layout.ts';
import { imageRowsToIpc } from '../store/image-tables.ts';
import type { ImageRow } from '../store/image-tables.ts';
import { failedSampleRow, readSampleRows, sampleRowsToIpc } from '../store/tables.ts';
import type { SampleRow } from '../store/tables.ts';

/** A slice of the run's image list, by index: workflow payloads carry these, never the images. */
export interface ShardSpec {
  shard: string;
  start: number;
  end: number;
}

/** Everything a run needs, written once as `manifest.json` before any sampling starts. */
export interface RunConfig {
  runId: string;
  createdAt: string;
  codeVersion: string;
  schemaVersion: number;
  dataset: string;
  prior: BundleRef;
  extractor: BundleRef;
  samplesPerImage: number;
  /** The resolved sampler options; the seed as a decimal string. */
  sampler: Omit<SamplerOptions, 'seed'> & { seed: string };
  preset: string | null;
  probes: string[];
  /** Query images sampled together in one batch (each with all its samples). */
  batchImages: number;
  /** Resize queries of another size to the prior's (only when the user or the bundle asks). */
  resizeQueries: boolean;
  provider: string;
  imageCount: number;
  shards: ShardSpec[];
}

export interface BundleRef {
  path: string;
  id: string;
  /** SHA-256 of every ONNX file of the bundle, by file name. */
  fingerprints: Record<string, string>;
}

/** A (prior, extractor) pair ready to sample, loaded once per worker process and reused. */
export interface LoadedPair {
  objective: FiberObjective;
  metric: FiberMetricName;
}

export type PairLoader = (config: RunConfig) => Promise<LoadedPair>;

export interface SamplingDeps {
  store: ObjectStore;
  loadPair: PairLoader;
}

export interface ShardInput extends ShardSpec {
  runId: string;
}

export interface ShardResult {
  shard: string;
  images: number;
  okRows: number;
  errorRows: number;
  tableKey: string;
  seconds: number;
}

export interface ShardHooks {
  /** Called after each batch with the index of the next image to sample (the heartbeat). */
  progress?: (nextImage: number, done: { images: number; samples: number }) => void | Promise<void>;
  signal?: AbortSignal;
}

export function parseRunConfig(bytes: Uint8Array, input: string): RunConfig {
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as RunConfig;
  } catch (err) {
    throw new InputError(input, 'expected a run manifest (JSON)', { cause: err });
  }
}

export function samplerOptionsOf(config: RunConfig): SamplerOptions {
  return { ...config.sampler, seed: BigInt(config.sampler.seed) };
}

interface BatchPart {
  images: ImageRow[];
  /** φ(query) per ok image, for the nearest-neighbour baseline. */
  featureIds: string[];
}

const json = (v: unknown) => JSON.stringify(v);

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Samples one shard of a run: for each batch of images, read + decode the queries, run the guided
 * sampler, compute metrics and probes, write PNGs and a part table. A batch whose part already
 * exists is skipped, so a retried shard resumes where the last attempt stopped and writes every
 * object under the same key again (no duplicates, nothing missing). An unreadable image or a
 * non-finite sample becomes an error row; the shard goes on.
 */
export async function sampleShard(deps: SamplingDeps, input: ShardInput, hooks: ShardHooks = {}): Promise<ShardResult> {
  const started = performance.now();
  const { store } = deps;
  const layout = runLayout(input.runId);
  const config = parseRunConfig(await store.get(layout.manifest), layout.manifest);
  const entries = JSON.parse(new TextDecoder().decode(await store.get(layout.images))) as DatasetEntry[];
  if (input.start < 0 || input.end > entries.length || input.start > input.end) {
    throw new InputError('shard', `range ${input.start}..${input.end} outside the run's ${entries.length} images`);
  }
  const tableKey = layout.shardTable(input.shard);
  const pair = await deps.loadPair(config);
  const options = samplerOptionsOf(config);
  const probes = validateProbes(config.probes);
  const K = config.samplesPerImage;
  const batchImages = Math.max(1, config.batchImages);

  for (let first = input.start; first < input.end; first += batchImages) {
    if (hooks.signal?.aborted) throw hooks.signal.reason;
    const last = Math.min(first + batchImages, input.end);
    const partKey = layout.shardPart(input.shard, first);
    if (!(await store.exists(partKey + '.json'))) {
      await sampleBatch(deps, config, pair, options, probes, entries.slice(first, last), K, partKey, hooks.signal);
    }
    await hooks.progress?.(last, { images: last - input.start, samples: (last - input.start) * K });
  }

  // Gather the parts into the shard's tables; parts stay until then, so a crash here is resumable too.
  const partKeys = (await store.list(layout.shardParts(input.shard))).filter((k) => k.endsWith('.json'));
  const sampleRows: SampleRow[] = [];
  const imageRows: ImageRow[] = [];
  const featureIds: string[] = [];
  const featureChunks: Float32Array[] = [];
  let featureDim = 0;
  for (const key of partKeys) {
    const base = key.slice(0, -'.json'.length);
    const part = JSON.parse(new TextDecoder().decode(await store.get(key))) as BatchPart;
    imageRows.push(...part.images);
    sampleRows.push(...readSampleRows(await store.get(base + '.arrow'), base + '.arrow'));
    if (part.featureIds.length > 0) {
      const f = readNpy(await store.get(base + '.npy'), base + '.npy');
      featureDim = f.shape[1] ?? 0;
      featureIds.push(...part.featureIds);
      featureChunks.push(f.data);
    }
  }
  const features = new Float32Array(featureIds.length * featureDim);
  let offset = 0;
  for (const c of featureChunks) {
    features.set(c, offset);
    offset += c.length;
  }
  await store.put(layout.shardTable(input.shard).replace(/\.arrow$/, '.images.arrow'), imageRowsToIpc(imageRows));
  await store.put(
    layout.shardTable(input.shard).replace(/\.arrow$/, '.features.npy'),
    writeNpy(features, [featureIds.length, featureDim]),
  );
  await store.put(layout.shardTable(input.shard).replace(/\.arrow$/, '.features.json'), json(featureIds));
  await store.put(tableKey, sampleRowsToIpc(sampleRows, probes));
  for (const key of partKeys) {
    const base = key.slice(0, -'.json'.length);
    await Promise.all([store.delete(base + '.arrow'), store.delete(base + '.npy'), store.delete(key)]);
  }
  const okRows = sampleRows.filter((r) => r.status === 'ok').length;
  return {
    shard: input.shard,
    images: input.end - input.start,
    okRows,
    errorRows: sampleRows.length - okRows,
    tableKey,
    seconds: (performance.now() - started) / 1000,
  };
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

async function sampleBatch(
  deps: SamplingDeps,
  config: RunConfig,
  pair: LoadedPair,
  options: SamplerOptions,
  probes: readonly ProbeName[],
  entries: DatasetEntry[],
  K: number,
  partKey: string,
  signal: AbortSignal | undefined,
): Promise<void> {
  const { store } = deps;
  const layout = runLayout(config.runId);
  const prior = pair.objective.prior;
  const shape = prior.imageShape as unknown as ChwShape;
  const ctx: RowContext = { runId: config.runId, seed: config.sampler.seed, priorId: config.prior.id, extractorId: config.extractor.id };
  const queries: FiberQuery[] = [];
  const sampleRows: SampleRow[] = [];
  const imageRows: ImageRow[] = [];
  for (const entry of entries) {
    try {
      const bytes = await readDatasetEntry(config.dataset, entry);
      const image = decodeQuery(bytes, `image ${entry.imageId}`, entry.key, prior, config.resizeQueries);
      queries.push({ imageId: entry.imageId, image, sampleIndices: Array.from({ length: K }, (_, k) => k) });
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      for (let k = 0; k < K; k++) sampleRows.push(errorSampleRow(ctx, options.variant, pair.metric, entry.imageId, k, errorText(err)));
      imageRows.push(errorImageRow(ctx, pair.metric, entry.imageId, K, errorText(err)));
    }
  }
  const measured = await measureFibers(pair, options, probes, queries, ctx, signal ? { signal } : {});
  const featureIds: string[] = [];
  const featureDim = pair.objective.featureDim;
  const features = new Float32Array(measured.length * featureDim);
  for (const m of measured) {
    const queryKey = layout.queryImage(m.query.imageId);
    await store.put(queryKey, encodePng(m.query.image, shape, prior.imageRange), 'image/png');
    for (const [i, row] of m.rows.entries()) {
      const sample = m.samples[i];
      if (sample) {
        row.image_key = layout.sampleImage(row.image_id, row.sample_index);
        await store.put(row.image_key, encodePng(sample, shape, prior.imageRange), 'image/png');
      }
      sampleRows.push(row);
    }
    imageRows.push({ ...m.image, query_key: queryKey });
    features.set(m.queryFeatures, featureIds.length * featureDim);
    featureIds.push(m.query.imageId);
  }
  // The .json is written last: its presence marks the batch as done.
  await store.put(partKey + '.arrow', sampleRowsToIpc(sampleRows, probes));
  await store.put(partKey + '.npy', writeNpy(features, [featureIds.length, featureDim]));
  await store.put(partKey + '.json', json({ images: imageRows, featureIds } satisfies BatchPart));
}
