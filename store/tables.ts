import type { Table } from 'apache-arrow';
import { InputError } from '../engine/errors.ts';
import { columnTypeOf, tableFromColumns, tableFromIpcFile, tableToIpcFile } from './arrow.ts';
import type { ColumnDef, ColumnValue } from './arrow.ts';
import { SCHEMA_VERSION, SCHEMA_VERSION_KEY } from './sample-rows.ts';
import type { SampleRow } from './sample-rows.ts';

const PROBE_NAME = /^[a-z0-9_]+$/;
const UINT64_MAX = 2n ** 64n - 1n;

type ScalarColumn = Exclude<keyof SampleRow, 'probes'>;

const LEADING: readonly (ColumnDef & { name: ScalarColumn })[] = [
  { name: 'run_id', type: 'utf8', nullable: false },
  { name: 'image_id', type: 'utf8', nullable: false },
  { name: 'sample_index', type: 'int32', nullable: false },
  { name: 'seed', type: 'utf8', nullable: false },
  { name: 'variant', type: 'utf8', nullable: false },
  { name: 'prior_id', type: 'utf8', nullable: false },
  { name: 'extractor_id', type: 'utf8', nullable: false },
  { name: 'status', type: 'utf8', nullable: false },
  { name: 'error', type: 'utf8', nullable: true },
  { name: 'cost', type: 'float64', nullable: true },
  { name: 'fiber_metric', type: 'float64', nullable: true },
  { name: 'fiber_metric_name', type: 'utf8', nullable: false },
  { name: 'pixel_distance', type: 'float64', nullable: true },
];

const TRAILING: readonly (ColumnDef & { name: ScalarColumn })[] = [
  { name: 'nearest_probe', type: 'utf8', nullable: true },
  { name: 'steps', type: 'int32', nullable: true },
  { name: 'inner_steps', type: 'int32', nullable: true },
  { name: 'nfe_denoiser', type: 'int32', nullable: true },
  { name: 'nfe_extractor', type: 'int32', nullable: true },
  { name: 'seconds', type: 'float64', nullable: true },
  { name: 'image_key', type: 'utf8', nullable: true },
];

const PROBE_PREFIX = 'probe_';

function checkProbeNames(probeNames: readonly string[]): void {
  const seen = new Set<string>();
  for (const name of probeNames) {
    if (!PROBE_NAME.test(name)) throw new InputError('probe name', `expected [a-z0-9_]+, got '${name}'`);
    if (seen.has(name)) throw new InputError('probe name', `'${name}' is listed twice`);
    seen.add(name);
  }
}

/** The columns of a sample table, in order, with one `probe_<name>` float64 column per probe. */
export function sampleColumns(probeNames: readonly string[]): ColumnDef[] {
  checkProbeNames(probeNames);
  return [
    ...LEADING,
    ...probeNames.map((name): ColumnDef => ({ name: PROBE_PREFIX + name, type: 'float64', nullable: true })),
    ...TRAILING,
  ];
}

function checkRow(row: SampleRow, index: number, probeNames: readonly string[]): void {
  const where = `sample row ${index} (${row.image_id}#${row.sample_index})`;
  if (row.status !== 'ok' && row.status !== 'error') throw new Error(`${where}: status must be ok or error, got '${String(row.status)}'`);
  if ((row.status === 'error') !== (row.error !== null)) throw new Error(`${where}: error must be set exactly when status is error`);
  if (!/^\d{1,20}$/.test(row.seed) || BigInt(row.seed) > UINT64_MAX) throw new Error(`${where}: seed '${row.seed}' is not a uint64`);
  const unknown = Object.keys(row.probes).filter((name) => !probeNames.includes(name));
  if (unknown.length > 0) throw new Error(`${where}: probes not in the table's probe list: ${unknown.join(', ')}`);
}

/** Sample rows as an Arrow table; a probe a row does not have is null. */
export function sampleRowsToTable(rows: readonly SampleRow[], probeNames: readonly string[]): Table {
  const columns = sampleColumns(probeNames);
  rows.forEach((row, i) => checkRow(row, i, probeNames));
  const values: Record<string, ColumnValue[]> = {};
  for (const column of [...LEADING, ...TRAILING]) values[column.name] = rows.map((row) => row[column.name] as ColumnValue);
  for (const name of probeNames) values[PROBE_PREFIX + name] = rows.map((row) => row.probes[name] ?? null);
  return tableFromColumns(columns, values, { [SCHEMA_VERSION_KEY]: String(SCHEMA_VERSION) });
}

/** Sample rows as Arrow IPC file bytes, ready for `store.put(key, bytes)`. */
export function sampleRowsToIpc(rows: readonly SampleRow[], probeNames: readonly string[]): Uint8Array {
  return tableToIpcFile(sampleRowsToTable(rows, probeNames));
}

export interface SampleTable {
  schemaVersion: number;
  probeNames: string[];
  rows: SampleRow[];
}

/**
 * Reads a sample table, checking every column this version knows is present with its type.
 * `input` names the source (a key, a path) in errors.
 */
export function readSampleTable(bytes: Uint8Array, input = 'sample table'): SampleTable {
  const table = tableFromIpcFile(bytes, input);
  const version = Number(table.schema.metadata.get(SCHEMA_VERSION_KEY));
  if (!Number.isInteger(version) || version < 1) {
    throw new InputError(input, `expected metadata '${SCHEMA_VERSION_KEY}' with a schema version, got '${table.schema.metadata.get(SCHEMA_VERSION_KEY) ?? ''}'`);
  }
  const fields = new Map(table.schema.fields.map((f) => [f.name, f]));
  for (const column of [...LEADING, ...TRAILING]) {
    const field = fields.get(column.name);
    if (field === undefined) throw new InputError(input, `missing column '${column.name}'`);
    if (columnTypeOf(field) !== column.type) throw new InputError(input, `column '${column.name}' is ${String(field.type)}, expected ${column.type}`);
  }
  const probeNames = table.schema.fields.filter((f) => f.name.startsWith(PROBE_PREFIX)).map((f) => f.name.slice(PROBE_PREFIX.length));
  for (const name of probeNames) {
    const field = fields.get(PROBE_PREFIX + name);
    if (field !== undefined && columnTypeOf(field) !== 'float64') throw new InputError(input, `column '${field.name}' is ${String(field.type)}, expected float64`);
  }

  const data = new Map<string, unknown[]>();
  for (const name of [...[...LEADING, ...TRAILING].map((c): string => c.name), ...probeNames.map((p) => PROBE_PREFIX + p)]) {
    const vector = table.getChild(name);
    if (vector === null) throw new InputError(input, `missing column '${name}'`);
    // get(i), not toArray(): typed arrays of numeric columns would turn nulls into zeros.
    data.set(name, Array.from({ length: vector.length }, (_, i) => vector.get(i) as unknown));
  }

  const at = <T>(name: string, i: number): T => (data.get(name) as unknown[])[i] as T;
  const rows: SampleRow[] = [];
  for (let i = 0; i < table.numRows; i++) {
    const status = at<string>('status', i);
    if (status !== 'ok' && status !== 'error') throw new InputError(input, `row ${i}: status '${status}', expected ok or error`);
    const probes: Record<string, number | null> = {};
    for (const name of probeNames) probes[name] = at<number | null>(PROBE_PREFIX + name, i);
    rows.push({
      run_id: at('run_id', i),
      image_id: at('image_id', i),
      sample_index: at('sample_index', i),
      seed: at('seed', i),
      variant: at('variant', i),
      prior_id: at('prior_id', i),
      extractor_id: at('extractor_id', i),
      status,
      error: at('error', i),
      cost: at('cost', i),
      fiber_metric: at('fiber_metric', i),
      fiber_metric_name: at('fiber_metric_name', i),
      pixel_distance: at('pixel_distance', i),
      probes,
      nearest_probe: at('nearest_probe', i),
      steps: at('steps', i),
      inner_steps: at('inner_steps', i),
      nfe_denoiser: at('nfe_denoiser', i),
      nfe_extractor: at('nfe_extractor', i),
      seconds: at('seconds', i),
      image_key: at('image_key', i),
    });
  }
  return { schemaVersion: version, probeNames, rows };
}

/** The rows of a sample table (see `readSampleTable`). */
export function readSampleRows(bytes: Uint8Array, input = 'sample table'): SampleRow[] {
  return readSampleTable(bytes, input).rows;
}
