import { nearestNeighbour } from '../engine/metrics/fiber.ts';
import type { ReferenceFeatures } from '../engine/metrics/fiber.ts';
import { readImageRows, imageRowsToIpc } from '../store/image-tables.ts';
import type { ImageRow } from '../store/image-tables.ts';
import { runLayout } from '../store/layout.ts';
import { readNpy } from '../store/npy.ts';
import type { ObjectStore } from '../store/objects.ts';
import { readSampleRows } from '../store/tables.ts';
import type { SampleRow } from '../store/sample-rows.ts';
import { readRunExtras } from '../report/extras.ts';
import { renderReport } from '../report/run-page.ts';
import { InputError } from '../engine/errors.ts';
import { readReference } from './reference.ts';
import { parseRunConfig } from '../runs/manifest.ts';
import type { RunConfig } from '../runs/manifest.ts';
import { fiberToNeighbourRatio, invarianceProfile, quantiles } from '../runs/summary.ts';
import type { RunSummary } from '../runs/summary.ts';

export interface SummaryResult {
  summaryKey: string;
  reportKey: string;
  summary: RunSummary;
}

/**
 * Gathers a finished run's shard tables into `summary.arrow` (per image, with the nearest-real-
 * neighbour baseline), `summary.json` (per run) and `report.html`.
 */
export async function summarizeRun(store: ObjectStore, runId: string): Promise<SummaryResult> {
  const layout = runLayout(runId);
  const config: RunConfig = parseRunConfig(await store.get(layout.manifest), layout.manifest);
  const samples: SampleRow[] = [];
  const images: ImageRow[] = [];
  const ids: string[] = [];
  const chunks: Float32Array[] = [];
  let dim = 0;
  for (const { shard } of config.shards) {
    const table = layout.shardTable(shard);
    samples.push(...readSampleRows(await store.get(table), table));
    images.push(...readImageRows(await store.get(layout.shardImages(shard))));
    const f = readNpy(await store.get(layout.shardFeatures(shard)));
    const fIds = JSON.parse(new TextDecoder().decode(await store.get(layout.shardFeatureIds(shard)))) as string[];
    if (fIds.length > 0) {
      dim = f.shape[1] ?? dim;
      ids.push(...fIds);
      chunks.push(f.data);
    }
  }
  const features = new Float32Array(ids.length * dim);
  chunks.reduce((offset, c) => (features.set(c, offset), offset + c.length), 0);
  // The reference set: a separate set of real images when the run has one, else the run's own
  // queries (then the closest OTHER image of the dataset, METHOD §2).
  const own = new Map(ids.map((id, i) => [id, features.subarray(i * dim, (i + 1) * dim)]));
  let references: ReferenceFeatures[] = ids.map((id) => ({ id, features: own.get(id)! }));
  const REF = 'reference:';
  if (config.reference !== null) {
    const ref = await readReference(store, runId);
    if (ref === null) throw new InputError('reference', `the reference set of run '${runId}' has not been embedded yet`);
    references = ref.ids.map((id, i) => ({ id: REF + id, features: ref.features.subarray(i * ref.dim, (i + 1) * ref.dim) }));
  }
  for (const row of images) {
    const query = own.get(row.image_id);
    const hit = query && references.length > 0 ? nearestNeighbour(row.image_id, query, references) : null;
    row.nn_baseline = hit?.id ? hit.squaredL2 : null;
    row.nn_image_id = hit?.id ? hit.id.replace(REF, '') : null;
  }
  images.sort((a, b) => (a.image_id < b.image_id ? -1 : a.image_id > b.image_id ? 1 : 0));

  const okImages = images.filter((r) => r.status === 'ok');
  const okSamples = samples.filter((r) => r.status === 'ok');
  const ratios = okImages.map(fiberToNeighbourRatio);
  const summary: RunSummary = {
    runId,
    prior: config.prior.id,
    extractor: config.extractor.id,
    variant: config.sampler.variant,
    fiberMetricName: images[0]?.fiber_metric_name ?? 'squared_l2',
    images: { total: images.length, ok: okImages.length, error: images.length - okImages.length },
    samples: { total: samples.length, ok: okSamples.length, error: samples.length - okSamples.length },
    probes: invarianceProfile(samples, config.probes),
    fiberMetric: quantiles(okSamples.map((r) => r.fiber_metric)),
    cost: quantiles(okSamples.map((r) => r.cost)),
    pixelDistance: quantiles(okSamples.map((r) => r.pixel_distance)),
    diversity: quantiles(okImages.map((r) => r.diversity)),
    nnBaseline: quantiles(okImages.map((r) => r.nn_baseline)),
    fiberToNeighbourRatio: quantiles(ratios).median,
    seconds: { perSampleMedian: quantiles(okSamples.map((r) => r.seconds)).median },
  };
  await store.put(layout.summary, imageRowsToIpc(images));
  await store.put(layout.summaryJson, JSON.stringify(summary, null, 2), 'application/json');
  await store.put(layout.report, renderReport({ config, summary, images, samples, ...(await readRunExtras(store, runId)) }), 'text/html');
  return { summaryKey: layout.summary, reportKey: layout.report, summary };
}
