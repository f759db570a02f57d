import { InputError } from '../engine/errors.ts';
import type { FiberQuery } from '../engine/guidance/sampler.ts';
import type { SamplerOptions } from '../engine/guidance/options.ts';
import { parseRunConfig } from '../runs/manifest.ts';
import type { RunConfig, ShardSpec } from '../runs/manifest.ts';
import { decodeQuery, errorImageRow, errorSampleRow, measureFibers } from '../runs/fibers.ts';
import type { LoadedPair, RowContext } from '../runs/fibers.ts';
import { validateProbes } from '../engine/metrics/probes.ts';
import type { ChwShape, ProbeName } from '../engine/metrics/probes.ts';
import { readDatasetEntry } from '../store/dataset.ts';
import { readRunImages } from './listing.ts';
import type { DatasetEntry } from '../store/dataset.ts';
import { encodePng } from '../store/images.ts';
import { inParallel } from '../store/parallel.ts';
import { readNpy, writeNpy } from '../store/npy.ts';
import { isErrno, ObjectNotFoundError } from '../store/objects.ts';
import type { ObjectStore } from '../store/objects.ts';
import { runLayout } from '../store/layout.ts';
import { imageRowsToIpc } from '../store/image-tables.ts';
import type { ImageRow } from '../store/image-tables.ts';
import { readSampleRows, sampleRowsToIpc } from '../store/tables.ts';
import type { SampleRow } from '../store/sample-rows.ts';

export type PairLoader = (config: RunConfig) => Promise<LoadedPair>;

/** Why a row is an error row, for operators' counts; the row's `error` says it in words. */
export type ErrorKind = 'image_missing' | 'image_invalid' | 'sample_non_finite';

/** One batch sampled and stored. */
export interface BatchOutcome {
  images: number;
  /** Images none of whose samples is ok (unreadable, or every sample non-finite). */
  errorImages: number;
  okSamples: number;
  errorRows: Partial<Record<ErrorKind, number>>;
  seconds: number;
}

/** What a worker counts for its operators (Prometheus metrics); the sampling itself never reads it. */
export interface SamplingObserver {
  batchSampled(outcome: BatchOutcome): void;
  /** A batch found already stored by an earlier attempt: not sampled again. */
  batchSkipped(): void;
  shardEnded(outcome: 'completed' | 'handed_back' | 'failed', seconds: number): void;
}

export interface SamplingDeps {
  store: ObjectStore;
  loadPair: PairLoader;
  observer?: SamplingObserver;
  /**
   * Aborted when the worker begins to shut down: a shard stops at the next batch boundary (the
   * running batch finishes and is stored) and is handed back to Temporal for another worker.
   */
  shutdown?: AbortSignal;
}

/** Thrown at a batch boundary once the worker shuts down: retryable, so the shard resumes elsewhere. */
export class ShardHandedBack extends Error {
  override readonly name = 'ShardHandedBack';
  constructor(
    readonly shard: string,
    readonly nextImage: number,
  ) {
    super(`worker shutting down: shard ${shard} handed back at image ${nextImage}; the stored batches are kept`);
  }
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
  /** Called after each batch this call sampled and stored (not for batches an earlier attempt stored). */
  stored?: (batch: StoredBatch) => void;
  signal?: AbortSignal;
}

/** A batch whose rows are in the store: its first image (the key of its part) and its counts. */
export interface StoredBatch {
  firstImage: number;
  images: number;
  okRows: number;
  errorRows: number;
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

/** Object reads and writes of one batch in flight at once: an S3 round trip each, so they overlap. */
const IO_CONCURRENCY = 16;

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
  // Only the shard's own images: the listing pages that cover it.
  const entries = await readRunImages(store, config, input.start, input.end);
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
      if (deps.shutdown?.aborted) throw new ShardHandedBack(input.shard, first);
      const batchStarted = performance.now();
      const outcome = await sampleBatch(deps, config, pair, options, probes, entries.slice(first - input.start, last - input.start), K, partKey, hooks.signal);
      deps.observer?.batchSampled({ ...outcome, seconds: (performance.now() - batchStarted) / 1000 });
      const errorRows = Object.values(outcome.errorRows).reduce((a, b) => a + b, 0);
      hooks.stored?.({ firstImage: first, images: last - first, okRows: outcome.okSamples, errorRows });
    } else {
      deps.observer?.batchSkipped();
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
  const parts = await inParallel(partKeys, IO_CONCURRENCY, async (key) => {
    const base = key.slice(0, -'.json'.length);
    const part = JSON.parse(new TextDecoder().decode(await store.get(key))) as BatchPart;
    const rows = readSampleRows(await store.get(base + '.arrow'), base + '.arrow');
    return { part, rows, features: part.featureIds.length > 0 ? readNpy(await store.get(base + '.npy'), base + '.npy') : null };
  });
  for (const { part, rows, features: f } of parts) {
    imageRows.push(...part.images);
    sampleRows.push(...rows);
    if (f !== null) {
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
  await Promise.all([
    store.put(layout.shardImages(input.shard), imageRowsToIpc(imageRows)),
    store.put(layout.shardFeatures(input.shard), writeNpy(features, [featureIds.length, featureDim])),
    store.put(layout.shardFeatureIds(input.shard), json(featureIds)),
  ]);
  // The sample table goes last: its presence marks the shard as done.
  await store.put(tableKey, sampleRowsToIpc(sampleRows, probes));
  await inParallel(partKeys, IO_CONCURRENCY, async (key) => {
    const base = key.slice(0, -'.json'.length);
    await Promise.all([store.delete(base + '.arrow'), store.delete(base + '.npy'), store.delete(key)]);
  });
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
): Promise<Omit<BatchOutcome, 'seconds'>> {
  const { store } = deps;
  const layout = runLayout(config.runId);
  const prior = pair.objective.prior;
  const shape = prior.imageShape as unknown as ChwShape;
  const ctx: RowContext = { runId: config.runId, seed: config.sampler.seed, priorId: config.prior.id, extractorId: config.extractor.id };
  const queries: FiberQuery[] = [];
  const sampleRows: SampleRow[] = [];
  const imageRows: ImageRow[] = [];
  const errorRows: Partial<Record<ErrorKind, number>> = {};
  const countErrors = (kind: ErrorKind, n: number) => (errorRows[kind] = (errorRows[kind] ?? 0) + n);
  const decoded = await inParallel(entries, IO_CONCURRENCY, async (entry): Promise<Float32Array | { kind: ErrorKind; message: string }> => {
    const name = `image ${entry.imageId}`;
    try {
      return decodeQuery(await readDatasetEntry(config.dataset, entry), name, entry.key, prior, config.resizeQueries);
    } catch (err) {
      // A dataset object that is gone fails the same way on every attempt: an error row, not a retry.
      if (err instanceof ObjectNotFoundError) return { kind: 'image_missing', message: `${name}: ${err.message}` };
      if (isErrno(err, 'ENOENT')) return { kind: 'image_missing', message: `${name}: no file '${entry.key}' in the dataset` };
      if (err instanceof InputError) return { kind: 'image_invalid', message: errorText(err) };
      throw err;
    }
  });
  for (const [i, entry] of entries.entries()) {
    const failure = decoded[i]!;
    if (failure instanceof Float32Array) {
      queries.push({ imageId: entry.imageId, image: failure, sampleIndices: Array.from({ length: K }, (_, k) => k) });
      continue;
    }
    for (let k = 0; k < K; k++) sampleRows.push(errorSampleRow(ctx, options.variant, pair.metric, entry.imageId, k, failure.message));
    imageRows.push(errorImageRow(ctx, pair.metric, entry.imageId, K, failure.message));
    countErrors(failure.kind, K);
  }
  const measured = await measureFibers(pair, options, probes, queries, ctx, signal ? { signal } : {});
  const featureIds: string[] = [];
  const featureDim = pair.objective.featureDim;
  const features = new Float32Array(measured.length * featureDim);
  const pngs: { key: string; image: Float32Array }[] = [];
  let okSamples = 0;
  for (const m of measured) {
    const nonFinite = m.rows.filter((r) => r.status === 'error').length;
    if (nonFinite > 0) countErrors('sample_non_finite', nonFinite);
    okSamples += m.rows.length - nonFinite;
    const queryKey = layout.queryImage(m.query.imageId);
    pngs.push({ key: queryKey, image: m.query.image });
    for (const [i, row] of m.rows.entries()) {
      const sample = m.samples[i];
      if (sample) {
        row.image_key = layout.sampleImage(row.image_id, row.sample_index);
        pngs.push({ key: row.image_key, image: sample });
      }
      sampleRows.push(row);
    }
    imageRows.push({ ...m.image, query_key: queryKey });
    features.set(m.queryFeatures, featureIds.length * featureDim);
    featureIds.push(m.query.imageId);
  }
  await inParallel(pngs, IO_CONCURRENCY, ({ key, image }) => store.put(key, encodePng(image, shape, prior.imageRange), 'image/png'));
  await Promise.all([
    store.put(partKey + '.arrow', sampleRowsToIpc(sampleRows, probes)),
    store.put(partKey + '.npy', writeNpy(features, [featureIds.length, featureDim])),
  ]);
  // The .json is written last: its presence marks the batch as done.
  await store.put(partKey + '.json', json({ images: imageRows, featureIds } satisfies BatchPart));
  return { images: entries.length, errorImages: imageRows.filter((r) => r.status === 'error').length, okSamples, errorRows };
}
