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
  const okRows = sampleRows.filter((r) => r.status === 'ok').length;
  return { okRows, errorRows: sampleRows.length - okRows };
}
