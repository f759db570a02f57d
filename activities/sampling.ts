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
import { readNpy, writeNpy } from '../store/npy.ts';
import type { ObjectStore } from '../store/objects.ts';
import { runLayout } from '../store/layout.ts';
import { imageRowsToIpc } from '../store/image-tables.ts';
import type { ImageRow } from '../store/image-tables.ts';
import { readSampleRows, sampleRowsToIpc } from '../store/tables.ts';
import type { SampleRow } from '../store/tables.ts';

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

/** `fn` over `items` with at most IO_CONCURRENCY calls pending; results in the order of `items`. */
async function inParallel<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i]!);
  };
  await Promise.all(Array.from({ length: Math.min(IO_CONCURRENCY, items.length) }, lane));
  return out;
}

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
      const rows = await sampleBatch(deps, config, pair, options, probes, entries.slice(first - input.start, last - input.start), K, partKey, hooks.signal);
      hooks.stored?.({ firstImage: first, images: last - first, ...rows });
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
  const parts = await inParallel(partKeys, async (key) => {
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
    store.put(layout.shardTable(input.shard).replace(/\.arrow$/, '.images.arrow'), imageRowsToIpc(imageRows)),
    store.put(layout.shardTable(input.shard).replace(/\.arrow$/, '.features.npy'), writeNpy(features, [featureIds.length, featureDim])),
    store.put(layout.shardTable(input.shard).replace(/\.arrow$/, '.features.json'), json(featureIds)),
  ]);
  // The sample table goes last: its presence marks the shard as done.
  await store.put(tableKey, sampleRowsToIpc(sampleRows, probes));
  await inParallel(partKeys, async (key) => {
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
): Promise<{ okRows: number; errorRows: number }> {
  const { store } = deps;
  const layout = runLayout(config.runId);
  const prior = pair.objective.prior;
  const shape = prior.imageShape as unknown as ChwShape;
  const ctx: RowContext = { runId: config.runId, seed: config.sampler.seed, priorId: config.prior.id, extractorId: config.extractor.id };
  const queries: FiberQuery[] = [];
  const sampleRows: SampleRow[] = [];
  const imageRows: ImageRow[] = [];
  const decoded = await inParallel(entries, async (entry) => {
    try {
      const bytes = await readDatasetEntry(config.dataset, entry);
      return decodeQuery(bytes, `image ${entry.imageId}`, entry.key, prior, config.resizeQueries);
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      return err;
    }
  });
  for (const [i, entry] of entries.entries()) {
    const image = decoded[i]!;
    if (image instanceof InputError) {
      for (let k = 0; k < K; k++) sampleRows.push(errorSampleRow(ctx, options.variant, pair.metric, entry.imageId, k, errorText(image)));
      imageRows.push(errorImageRow(ctx, pair.metric, entry.imageId, K, errorText(image)));
    } else {
      queries.push({ imageId: entry.imageId, image, sampleIndices: Array.from({ length: K }, (_, k) => k) });
    }
  }
  const measured = await measureFibers(pair, options, probes, queries, ctx, signal ? { signal } : {});
  const featureIds: string[] = [];
  const featureDim = pair.objective.featureDim;
  const features = new Float32Array(measured.length * featureDim);
  const pngs: { key: string; image: Float32Array }[] = [];
  for (const m of measured) {
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
  await inParallel(pngs, ({ key, image }) => store.put(key, encodePng(image, shape, prior.imageRange), 'image/png'));
  await Promise.all([
    store.put(partKey + '.arrow', sampleRowsToIpc(sampleRows, probes)),
    store.put(partKey + '.npy', writeNpy(features, [featureIds.length, featureDim])),
  ]);
  // The .json is written last: its presence marks the batch as done.
  await store.put(partKey + '.json', json({ images: imageRows, featureIds } satisfies BatchPart));
  const okRows = sampleRows.filter((r) => r.status === 'ok').length;
  return { okRows, errorRows: sampleRows.length - okRows };
}
