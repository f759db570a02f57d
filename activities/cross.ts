import { InputError } from '../engine/errors.ts';
import { fiberMetric, nearestNeighbour } from '../engine/metrics/fiber.ts';
import type { ReferenceFeatures } from '../engine/metrics/fiber.ts';
import type { CrossSummary } from '../runs/cross.ts';
import type { BundleRef } from '../runs/manifest.ts';
import { parseRunConfig } from '../runs/manifest.ts';
import { quantiles } from '../runs/summary.ts';
import type { ColumnDef } from '../store/arrow.ts';
import { tableFromColumns, tableToIpcFile } from '../store/arrow.ts';
import { readImageRows } from '../store/image-tables.ts';
import { decodeImage } from '../store/images.ts';
import { runLayout } from '../store/layout.ts';
import { readSampleRows } from '../store/tables.ts';
import { SCHEMA_VERSION, SCHEMA_VERSION_KEY } from '../store/sample-rows.ts';
import { fingerprintBundle } from './run.ts';
import type { SamplingDeps } from './sampling.ts';

/** Images embedded per call of the second extractor. */
const BATCH = 16;

/** One row per (image, sample) of `cross/<extractorId>.arrow`. */
export const CROSS_COLUMNS: readonly ColumnDef[] = [
  { name: 'image_id', type: 'utf8', nullable: false },
  { name: 'sample_index', type: 'int32', nullable: false },
  { name: 'fiber_metric', type: 'float64', nullable: true },
  { name: 'nn_baseline', type: 'float64', nullable: true },
  { name: 'ratio', type: 'float64', nullable: true },
  /** The probe the run found the sample nearest to: agreement per invariance. */
  { name: 'nearest_probe', type: 'utf8', nullable: true },
];

export interface CrossResult {
  summary: CrossSummary;
  tableKey: string;
  jsonKey: string;
}

/**
 * Cross-model agreement (METHOD §9): embeds a finished run's queries and fiber samples with a second
 * extractor and measures, per sample, the second model's fiber metric between sample and query next
 * to its nearest-real-neighbour baseline (the closest other query of the run under the second model).
 * A ratio well below 1 means the second model shares the first one's invariance; far above 1, the
 * first model's fibers leave the second one's. Queries and samples are read back from the run's PNGs,
 * so both sides carry the same 8-bit quantisation.
 */
export async function crossEmbed(deps: SamplingDeps, runId: string, extractorSpec: string): Promise<CrossResult> {
  const { store } = deps;
  const layout = runLayout(runId);
  if (!(await store.exists(layout.manifest))) throw new InputError('run', `no run '${runId}' in ${store.location}`);
  const config = parseRunConfig(await store.get(layout.manifest), layout.manifest);
  const other: BundleRef = await fingerprintBundle(extractorSpec);
  const { objective, metric } = await deps.loadPair({ ...config, extractor: other });
  const distance = fiberMetric(metric, 'extractor.metric');
  const shape = objective.prior.imageShape;
  const [channels, height, width] = shape as [number, number, number];
  if (channels !== 1 && channels !== 3) throw new InputError('prior.image.channels', `expected 1 or 3 channels for PNG images, got ${channels}`);
  const size = channels * height * width;
  const dim = objective.featureDim;

  const embed = async (keys: string[]): Promise<Float32Array> => {
    const out = new Float32Array(keys.length * dim);
    for (let first = 0; first < keys.length; first += BATCH) {
      const batch = keys.slice(first, first + BATCH);
      const images = new Float32Array(batch.length * size);
      for (const [i, key] of batch.entries()) {
        images.set(decodeImage(await store.get(key), { channels, range: objective.prior.imageRange, height, width }, key).data, i * size);
      }
      out.set(await objective.imageFeatures(images, batch.length), first * dim);
    }
    return out;
  };

  // Every query first: the nearest-neighbour baseline needs all of them.
  const queries: ReferenceFeatures[] = [];
  const samplesByShard: { imageId: string; sampleIndex: number; key: string; probe: string | null }[][] = [];
  for (const { shard } of config.shards) {
    const table = layout.shardTable(shard);
    const images = readImageRows(await store.get(layout.shardImages(shard)), layout.shardImages(shard));
    const ok = images.filter((r) => r.status === 'ok' && r.query_key !== null);
    const features = await embed(ok.map((r) => r.query_key!));
    ok.forEach((r, i) => queries.push({ id: r.image_id, features: features.slice(i * dim, (i + 1) * dim) }));
    samplesByShard.push(
      readSampleRows(await store.get(table), table)
        .filter((r) => r.status === 'ok' && r.image_key !== null)
        .map((r) => ({ imageId: r.image_id, sampleIndex: r.sample_index, key: r.image_key!, probe: r.nearest_probe })),
    );
  }
  if (queries.length === 0) throw new InputError('run', `run '${runId}' has no finished images to embed (is it complete?)`);
  const queryOf = new Map(queries.map((q) => [q.id, q.features]));
  const baselineOf = new Map(queries.map((q) => [q.id, nearestNeighbour(q.id, q.features, queries).squaredL2]));

  const rows: { image_id: string; sample_index: number; fiber_metric: number; nn_baseline: number; ratio: number; nearest_probe: string | null }[] = [];
  for (const samples of samplesByShard) {
    const features = await embed(samples.map((s) => s.key));
    samples.forEach((s, i) => {
      const query = queryOf.get(s.imageId);
      if (query === undefined) return;
      const d = distance(features.subarray(i * dim, (i + 1) * dim), query);
      const nn = baselineOf.get(s.imageId)!;
      rows.push({ image_id: s.imageId, sample_index: s.sampleIndex, fiber_metric: d, nn_baseline: nn, ratio: nn > 0 ? d / nn : Number.NaN, nearest_probe: s.probe });
    });
  }
  const finite = (v: number) => (Number.isFinite(v) ? v : null);
  const agreement = (ratios: number[]) => ({
    ratioMedian: quantiles(ratios).median,
    shareBelowBaseline: ratios.length === 0 ? null : ratios.filter((r) => r < 1).length / ratios.length,
  });
  const ratios = rows.map((r) => r.ratio).filter(Number.isFinite);
  const probes = [...new Set(rows.map((r) => r.nearest_probe ?? 'none'))].sort();
  const byProbe = probes.map((probe) => {
    const mine = rows.filter((r) => (r.nearest_probe ?? 'none') === probe).map((r) => r.ratio).filter(Number.isFinite);
    return { probe, samples: mine.length, ...agreement(mine) };
  });
  const ratiosOf = new Map<string, (number | null)[]>();
  for (const r of rows) ratiosOf.set(r.image_id, [...(ratiosOf.get(r.image_id) ?? []), finite(r.ratio)]);
  const perImage = [...queryOf.keys()]
    .map((imageId) => ({
      imageId,
      ratioMedian: quantiles(ratiosOf.get(imageId) ?? []).median,
      nnBaseline: finite(baselineOf.get(imageId)!),
    }))
    .sort((a, b) => (b.ratioMedian ?? -Infinity) - (a.ratioMedian ?? -Infinity) || a.imageId.localeCompare(b.imageId));
  const summary: CrossSummary = {
    version: 1,
    runId,
    fibersOf: { id: config.extractor.id, fingerprints: config.extractor.fingerprints },
    extractor: { id: other.id, fingerprints: other.fingerprints },
    fiberMetricName: metric,
    images: queries.length,
    samples: rows.length,
    overall: {
      fiberMetricMedian: quantiles(rows.map((r) => finite(r.fiber_metric))).median,
      nnBaselineMedian: quantiles([...baselineOf.values()].map(finite)).median,
      ...agreement(ratios),
    },
    byProbe,
    perImage,
  };
  const tableKey = layout.crossTable(other.id);
  const jsonKey = layout.crossJson(other.id);
  const columns: Record<string, (string | number | null)[]> = {};
  for (const c of CROSS_COLUMNS) {
    columns[c.name] = rows.map((r) => {
      const v = r[c.name as keyof typeof r];
      return typeof v === 'number' ? finite(v) : v;
    });
  }
  await store.put(tableKey, tableToIpcFile(tableFromColumns(CROSS_COLUMNS, columns, { [SCHEMA_VERSION_KEY]: String(SCHEMA_VERSION) })));
  await store.put(jsonKey, JSON.stringify(summary, null, 2), 'application/json');
  return { summary, tableKey, jsonKey };
}
