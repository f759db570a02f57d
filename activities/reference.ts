import { InputError } from '../engine/errors.ts';
import { listDataset, readDatasetEntry } from '../store/dataset.ts';
import { runLayout } from '../store/layout.ts';
import { readNpy, writeNpy } from '../store/npy.ts';
import { parseRunConfig } from '../runs/manifest.ts';
import { decodeQuery } from '../runs/fibers.ts';
import type { SamplingDeps } from './sampling.ts';

/** Reference images embedded per call of φ: small enough for any extractor's memory. */
const BATCH = 16;

export interface EmbeddedReference {
  ids: string[];
  dim: number;
  features: Float32Array;
}

const keys = (runId: string) => {
  const base = runLayout(runId).base;
  return { features: `${base}/reference.features.npy`, ids: `${base}/reference.ids.json` };
};

/**
 * φ of every image of the run's reference set (METHOD §2: the nearest-real-neighbour baseline),
 * written once next to the run; an image that cannot be read is left out and counted.
 */
export async function embedReference(deps: SamplingDeps, runId: string): Promise<{ images: number; skipped: number }> {
  const { store } = deps;
  const layout = runLayout(runId);
  const config = parseRunConfig(await store.get(layout.manifest), layout.manifest);
  if (config.reference === null) throw new InputError('reference', `run '${runId}' has no reference set`);
  const k = keys(runId);
  if (await store.exists(k.ids)) {
    const ids = JSON.parse(new TextDecoder().decode(await store.get(k.ids))) as string[];
    return { images: ids.length, skipped: 0 };
  }
  const { objective } = await deps.loadPair(config);
  const size = objective.prior.imageShape.reduce((a, b) => a * b, 1);
  const entries = await listDataset(config.reference);
  const ids: string[] = [];
  const chunks: Float32Array[] = [];
  let skipped = 0;
  for (let first = 0; first < entries.length; first += BATCH) {
    const batch = entries.slice(first, first + BATCH);
    const images = new Float32Array(batch.length * size);
    let n = 0;
    for (const entry of batch) {
      try {
        const image = decodeQuery(await readDatasetEntry(config.reference, entry), `reference ${entry.imageId}`, entry.key, objective.prior, config.resizeQueries);
        images.set(image, n * size);
        ids.push(entry.imageId);
        n += 1;
      } catch (err) {
        if (!(err instanceof InputError)) throw err;
        skipped += 1;
      }
    }
    if (n > 0) chunks.push(await objective.imageFeatures(images.subarray(0, n * size), n));
  }
  const dim = objective.featureDim;
  const features = new Float32Array(ids.length * dim);
  chunks.reduce((offset, c) => (features.set(c, offset), offset + c.length), 0);
  await store.put(k.features, writeNpy(features, [ids.length, dim]));
  await store.put(k.ids, JSON.stringify(ids), 'application/json');
  return { images: ids.length, skipped };
}

/** The embedded reference set of a run, or null when it has none yet. */
export async function readReference(store: SamplingDeps['store'], runId: string): Promise<EmbeddedReference | null> {
  const k = keys(runId);
  if (!(await store.exists(k.ids))) return null;
  const ids = JSON.parse(new TextDecoder().decode(await store.get(k.ids))) as string[];
  const f = readNpy(await store.get(k.features), k.features);
  return { ids, dim: f.shape[1] ?? 0, features: f.data };
}
