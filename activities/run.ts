import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { InputError } from '../engine/errors.ts';
import type { SamplerOptions } from '../engine/guidance/options.ts';
import { SCHEMA_VERSION } from '../store/sample-rows.ts';
import { localBundle } from '../store/bundles.ts';
import { datasetEntries } from '../store/dataset.ts';
import { runLayout } from '../store/layout.ts';
import type { ObjectStore } from '../store/objects.ts';
import { planShards } from '../workflows/plan.ts';
import type { BundleRef, RunConfig } from '../runs/manifest.ts';
import { LISTING_PAGE_SIZE, writeRunListing } from './listing.ts';

const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
export const CODE_VERSION = pkg.version;

export interface NewRun {
  runId?: string;
  dataset: string;
  prior: string;
  extractor: string;
  samplesPerImage: number;
  sampler: SamplerOptions;
  preset: string | null;
  probes: string[];
  batchImages: number;
  shardSize: number;
  resizeQueries: boolean;
  provider: string;
  /** Only the first N images of the dataset (a quick look at a large set). */
  limit?: number;
  /** A separate set of real images for the nearest-neighbour baseline (default: the run's own images). */
  reference?: string;
  /** Set when a Temporal Schedule started the run. */
  schedule?: { id: string; actionTime: string };
}

/**
 * SHA-256 of every ONNX file of a bundle (a folder or s3://bucket/prefix): the run manifest records
 * exactly which models ran, and the spec as given so every worker can resolve it.
 */
export async function fingerprintBundle(spec: string): Promise<BundleRef> {
  const dir = await localBundle(spec);
  const files = (await readdir(dir)).filter((f) => f.endsWith('.onnx') || f.endsWith('.onnx.data') || f === 'fiberscope.json').sort();
  const fingerprints: Record<string, string> = {};
  for (const f of files) fingerprints[f] = createHash('sha256').update(await readFile(join(dir, f))).digest('hex');
  const manifest = JSON.parse(await readFile(join(dir, 'fiberscope.json'), 'utf8')) as { name?: unknown };
  const id = typeof manifest.name === 'string' && manifest.name !== '' ? manifest.name : basename(resolve(dir));
  return { path: spec.startsWith('s3://') ? spec : resolve(spec), id, fingerprints };
}

/** A sortable, readable run id: UTC time plus a short random tail. */
export function newRunId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * Lists the dataset page by page into the run's listing pages, plans shards and writes `manifest.json`:
 * after this every worker can sample any shard from the run id alone. Invalid input is refused here,
 * before any work.
 */
export async function createRun(store: ObjectStore, spec: NewRun): Promise<RunConfig> {
  if (!Number.isInteger(spec.samplesPerImage) || spec.samplesPerImage < 1) {
    throw new InputError('k', `expected a positive integer number of samples per image, got ${spec.samplesPerImage}`);
  }
  if (!Number.isInteger(spec.batchImages) || spec.batchImages < 1) throw new InputError('batch-images', `expected a positive integer, got ${spec.batchImages}`);
  if (!Number.isInteger(spec.shardSize) || spec.shardSize < 1) throw new InputError('shard-size', `expected a positive integer, got ${spec.shardSize}`);
  if (spec.limit !== undefined && (!Number.isInteger(spec.limit) || spec.limit < 1)) throw new InputError('limit', `expected a positive integer, got ${spec.limit}`);
  // A bad reference set is refused now, not after hours of sampling.
  if (spec.reference !== undefined) for await (const _ of datasetEntries(spec.reference, 'reference'));
  const runId = spec.runId ?? newRunId();
  const layout = runLayout(runId);
  if (await store.exists(layout.manifest)) throw new InputError('run-id', `run '${runId}' already exists in ${store.location}; pick another id or resume it`);
  const imageCount = await writeRunListing(store, runId, datasetEntries(spec.dataset), spec.limit);
  const config: RunConfig = {
    runId,
    createdAt: new Date().toISOString(),
    codeVersion: CODE_VERSION,
    schemaVersion: SCHEMA_VERSION,
    dataset: spec.dataset.startsWith('s3://') ? spec.dataset : resolve(spec.dataset),
    prior: await fingerprintBundle(spec.prior),
    extractor: await fingerprintBundle(spec.extractor),
    samplesPerImage: spec.samplesPerImage,
    sampler: { ...spec.sampler, seed: spec.sampler.seed.toString() },
    preset: spec.preset,
    probes: spec.probes,
    batchImages: spec.batchImages,
    resizeQueries: spec.resizeQueries,
    provider: spec.provider,
    imageCount,
    listing: { pageSize: LISTING_PAGE_SIZE },
    shards: planShards(imageCount, spec.shardSize),
    reference: spec.reference === undefined ? null : spec.reference.startsWith('s3://') ? spec.reference : resolve(spec.reference),
    schedule: spec.schedule ?? null,
  };
  // The manifest goes last: a run exists once its manifest does.
  await store.put(layout.manifest, JSON.stringify(config, null, 2), 'application/json');
  return config;
}
