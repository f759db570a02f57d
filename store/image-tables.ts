import type { ColumnDef, ColumnValue } from './arrow.ts';
import { tableFromColumns, tableFromIpcFile, tableToIpcFile } from './arrow.ts';
import { SCHEMA_VERSION, SCHEMA_VERSION_KEY } from './sample-rows.ts';

/**
 * Per-image rows (one per query image): written per shard (`shards/<shard>.images.arrow`) and,
 * with the nearest-neighbour baseline added, as the run's `summary.arrow`.
 */
export interface ImageRow {
  run_id: string;
  image_id: string;
  status: 'ok' | 'error';
  error: string | null;
  /** Samples asked for and samples that came out finite. */
  samples: number;
  samples_ok: number;
  /** Mean pairwise RMS distance between the image's samples (prior range); null below two samples. */
  diversity: number | null;
  cost_mean: number | null;
  fiber_metric_mean: number | null;
  fiber_metric_name: string;
  pixel_distance_mean: number | null;
  /** The probe most samples were nearest to (`none`: the query itself). */
  top_probe: string | null;
  /** Fraction of the image's ok samples whose nearest probe is `top_probe`. */
  top_probe_rate: number | null;
  /** Squared-L2 feature distance from the query to the closest other image of the run (METHOD §2). */
  nn_baseline: number | null;
  nn_image_id: string | null;
  query_key: string | null;
}

export const IMAGE_COLUMNS: readonly ColumnDef[] = [
  { name: 'run_id', type: 'utf8', nullable: false },
  { name: 'image_id', type: 'utf8', nullable: false },
  { name: 'status', type: 'utf8', nullable: false },
  { name: 'error', type: 'utf8', nullable: true },
  { name: 'samples', type: 'int32', nullable: false },
  { name: 'samples_ok', type: 'int32', nullable: false },
  { name: 'diversity', type: 'float64', nullable: true },
  { name: 'cost_mean', type: 'float64', nullable: true },
  { name: 'fiber_metric_mean', type: 'float64', nullable: true },
  { name: 'fiber_metric_name', type: 'utf8', nullable: false },
  { name: 'pixel_distance_mean', type: 'float64', nullable: true },
  { name: 'top_probe', type: 'utf8', nullable: true },
  { name: 'top_probe_rate', type: 'float64', nullable: true },
  { name: 'nn_baseline', type: 'float64', nullable: true },
  { name: 'nn_image_id', type: 'utf8', nullable: true },
  { name: 'query_key', type: 'utf8', nullable: true },
];

/** NaN has no place in a table column: it becomes null. */
const clean = (v: ColumnValue): ColumnValue => (typeof v === 'number' && !Number.isFinite(v) ? null : v);

export function imageRowsToIpc(rows: readonly ImageRow[]): Uint8Array {
  const values: Record<string, ColumnValue[]> = {};
  for (const c of IMAGE_COLUMNS) values[c.name] = rows.map((r) => clean(r[c.name as keyof ImageRow] as ColumnValue));
  return tableToIpcFile(tableFromColumns(IMAGE_COLUMNS, values, { [SCHEMA_VERSION_KEY]: String(SCHEMA_VERSION) }));
}

export function readImageRows(bytes: Uint8Array, input = 'image table'): ImageRow[] {
  const table = tableFromIpcFile(bytes, input);
  const rows: ImageRow[] = [];
  const vectors = IMAGE_COLUMNS.map((c) => [c.name, table.getChild(c.name)] as const);
  for (let i = 0; i < table.numRows; i++) {
    const row: Record<string, unknown> = {};
    for (const [name, v] of vectors) row[name] = v ? (v.get(i) as unknown) : null;
    rows.push(row as unknown as ImageRow);
  }
  return rows;
}
