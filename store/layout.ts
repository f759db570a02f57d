import { sanitizeKeyPart } from './objects.ts';

/**
 * The run folder (DESIGN.md "Storage layout"): every key is derived from ids only, so a retried
 * write overwrites the same object instead of adding a second one.
 */
export const runLayout = (runId: string) => {
  const base = `runs/${sanitizeKeyPart(runId)}`;
  return {
    base,
    manifest: `${base}/manifest.json`,
    /** The image list of runs made before the paged listing (all images in one object). */
    images: `${base}/images.json`,
    /** One page of the run's image list, by the index of its first image: workflow payloads carry keys, not lists. */
    listingPage: (firstImage: number) => `${base}/listing/${String(firstImage).padStart(10, '0')}.json`,
    shardTable: (shard: string) => `${base}/shards/${sanitizeKeyPart(shard)}.arrow`,
    /** The shard's per-image rows, and φ(query) of its ok images with their ids (the nearest-neighbour baseline). */
    shardImages: (shard: string) => `${base}/shards/${sanitizeKeyPart(shard)}.images.arrow`,
    shardFeatures: (shard: string) => `${base}/shards/${sanitizeKeyPart(shard)}.features.npy`,
    shardFeatureIds: (shard: string) => `${base}/shards/${sanitizeKeyPart(shard)}.features.json`,
    /** Rows of a shard's finished batches, kept until the shard table is written, so a retry resumes. */
    shardPart: (shard: string, firstImage: number) =>
      `${base}/parts/${sanitizeKeyPart(shard)}/${String(firstImage).padStart(8, '0')}.arrow`,
    shardParts: (shard: string) => `${base}/parts/${sanitizeKeyPart(shard)}/`,
    queryImage: (imageId: string) => `${base}/images/${sanitizeKeyPart(imageId)}/query.png`,
    sampleImage: (imageId: string, k: number) => `${base}/images/${sanitizeKeyPart(imageId)}/${k}.png`,
    summary: `${base}/summary.arrow`,
    summaryJson: `${base}/summary.json`,
    report: `${base}/report.html`,
    /** How the run stands (runs/status.ts): running, failed (and why) or done. */
    status: `${base}/status.json`,
    /** The regression gate's verdict, recorded in the candidate run. */
    gate: `${base}/gate.json`,
    /** Cross-model agreement: the run's fibers embedded by another extractor. */
    crossTable: (extractorId: string) => `${base}/cross/${sanitizeKeyPart(extractorId)}.arrow`,
    crossJson: (extractorId: string) => `${base}/cross/${sanitizeKeyPart(extractorId)}.json`,
  };
};
export type RunLayout = ReturnType<typeof runLayout>;
