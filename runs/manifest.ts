import { InputError } from '../engine/errors.ts';
import type { SamplerOptions } from '../engine/guidance/options.ts';

/**
 * The run manifest (`manifest.json`): the model of a run that every layer reads (activities sample
 * and summarize it, the report renders it, the catalogue lists it). Written once before any sampling.
 */

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
  /** Real images for the nearest-neighbour baseline; null: the run's own queries. */
  reference: string | null;
  provider: string;
  imageCount: number;
  /** The image list is stored in pages of `pageSize` images (`listing/<first>.json`); absent in older runs, which have one `images.json`. */
  listing?: { pageSize: number };
  shards: ShardSpec[];
  /** The Temporal Schedule that started this run and the action's time; null (or absent in older manifests) otherwise. */
  schedule?: { id: string; actionTime: string } | null;
}

export interface BundleRef {
  path: string;
  id: string;
  /** SHA-256 of every ONNX file of the bundle, by file name. */
  fingerprints: Record<string, string>;
}

export function parseRunConfig(bytes: Uint8Array, input: string): RunConfig {
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as RunConfig;
  } catch (err) {
    throw new InputError(input, 'expected a run manifest (JSON)', { cause: err });
  }
}
