import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../../../engine/errors.ts';
import { tableFromColumns, tableFromIpcFile, tableToIpcFile } from '../../../store/arrow.ts';
import { readSampleTable, sampleColumns, sampleRowsToIpc } from '../../../store/tables.ts';
import { SCHEMA_VERSION } from '../../../store/sample-rows.ts';
import type { SampleRow } from '../../../store/sample-rows.ts';

const PROBES = ['hflip', 'rot90', 'grayscale'];

function okRow(k: number): SampleRow {
  return {
    run_id: 'run-1',
    image_id: `img-${k >> 1}`,
    sample_index: k & 1,
    seed: (18446744073709551615n - BigInt(k)).toString(),
    variant: 'ndtm',
    prior_id: 'gauss-mix',
    extractor_id: 'linear-probe',
    status: 'ok',
    error: null,
    cost: 0.125 * k + 1e-12,
    fiber_metric: 1 / (k + 3),
    fiber_metric_name: 'squared_l2',
    pixel_distance: Math.PI * k,
    probes: { hflip: 0.5 + k, rot90: -0, grayscale: 1e300 },
    nearest_probe: k % 2 === 0 ? 'hflip' : 'none',
    steps: 50,
    inner_steps: 4,
    nfe_denoiser: 200 + k,
    nfe_extractor: 400,
    seconds: 1.5,
    image_key: `runs/run-1/images/img-${k >> 1}/${k & 1}.png`,
  };
}

const errorRow: SampleRow = {
  run_id: 'run-1',
  image_id: 'broken.jpg',
  sample_index: 0,
  seed: '0',
  variant: 'ndtm',
  prior_id: 'gauss-mix',
  extractor_id: 'linear-probe',
  status: 'error',
  error: 'decode failed: not a JPEG',
  cost: null,
  fiber_metric: null,
  fiber_metric_name: 'squared_l2',
  pixel_distance: null,
  probes: {},
  nearest_probe: null,
  steps: 50,
  inner_steps: 4,
  nfe_denoiser: null,
  nfe_extractor: null,
  seconds: null,
  image_key: null,
};

test('sample rows round-trip through Arrow IPC file bytes exactly, nulls included', () => {
  const rows = [okRow(0), okRow(1), okRow(2), errorRow];
  const bytes = sampleRowsToIpc(rows, PROBES);
  assert.equal(new TextDecoder().decode(bytes.subarray(0, 6)), 'ARROW1', 'IPC file format, not stream');
  const table = readSampleTable(bytes);
  assert.equal(table.schemaVersion, SCHEMA_VERSION);
  assert.deepEqual(table.probeNames, PROBES);
  const expected = rows.map((r) => ({ ...r, probes: Object.fromEntries(PROBES.map((p) => [p, r.probes[p] ?? null])) }));
  assert.deepEqual(table.rows, expected);
});

test('the sample schema has the documented columns, types and nullability in order', () => {
  const bytes = sampleRowsToIpc([{ ...okRow(0), probes: { hflip: 1 } }], ['hflip']);
  const fields = tableFromIpcFile(bytes).schema.fields.map((f) => `${f.name}:${String(f.type)}:${f.nullable ? 'null' : 'req'}`);
  assert.deepEqual(fields, [
    'run_id:Utf8:req',
    'image_id:Utf8:req',
    'sample_index:Int32:req',
    'seed:Utf8:req',
    'variant:Utf8:req',
    'prior_id:Utf8:req',
    'extractor_id:Utf8:req',
    'status:Utf8:req',
    'error:Utf8:null',
    'cost:Float64:null',
    'fiber_metric:Float64:null',
    'fiber_metric_name:Utf8:req',
    'pixel_distance:Float64:null',
    'probe_hflip:Float64:null',
    'nearest_probe:Utf8:null',
    'steps:Int32:null',
    'inner_steps:Int32:null',
    'nfe_denoiser:Int32:null',
    'nfe_extractor:Int32:null',
    'seconds:Float64:null',
    'image_key:Utf8:null',
  ]);
});

test('an empty table keeps its schema and probe names', () => {
  const table = readSampleTable(sampleRowsToIpc([], PROBES));
  assert.deepEqual(table.rows, []);
  assert.deepEqual(table.probeNames, PROBES);
});

test('bad rows and bad probe names are refused before anything is written', () => {
  assert.throws(() => sampleRowsToIpc([{ ...okRow(0), seed: '18446744073709551616' }], PROBES), /not a uint64/);
  assert.throws(() => sampleRowsToIpc([{ ...okRow(0), seed: '-1' }], PROBES), /not a uint64/);
  assert.throws(() => sampleRowsToIpc([{ ...okRow(0), error: 'x' }], PROBES), /error must be set exactly/);
  assert.throws(() => sampleRowsToIpc([{ ...okRow(0), sample_index: 1.5 }], PROBES), /not a valid int32/);
  assert.throws(() => sampleRowsToIpc([okRow(0)], ['hflip']), /probes not in the table's probe list: rot90, grayscale/);
  assert.throws(() => sampleColumns(['Bad-Name']), InputError);
  assert.throws(() => sampleColumns(['a', 'a']), InputError);
});

test('reading a table that is not a sample table names what is wrong', () => {
  assert.throws(() => readSampleTable(new Uint8Array([1, 2, 3]), 'runs/x/shards/0.arrow'), /runs\/x\/shards\/0.arrow: expected an Arrow IPC file/);
  const noVersion = tableToIpcFile(tableFromColumns([{ name: 'run_id', type: 'utf8', nullable: false }], { run_id: ['r'] }));
  assert.throws(() => readSampleTable(noVersion), /schema version/);
  const missing = tableToIpcFile(
    tableFromColumns([{ name: 'run_id', type: 'utf8', nullable: false }], { run_id: ['r'] }, { 'fiberscope.schema_version': '1' }),
  );
  assert.throws(() => readSampleTable(missing), /missing column 'image_id'/);
});

test('tableFromColumns checks lengths, nulls and types', () => {
  const cols = [
    { name: 'a', type: 'int64' as const, nullable: false },
    { name: 'b', type: 'bool' as const, nullable: true },
    { name: 'c', type: 'float32' as const, nullable: false },
  ];
  const table = tableFromIpcFile(tableToIpcFile(tableFromColumns(cols, { a: [2n ** 62n, -1n], b: [true, null], c: [0.5, 2] })));
  assert.deepEqual(
    table.toArray().map((r) => ({ ...(r as { toJSON(): object }).toJSON() })),
    [
      { a: 2n ** 62n, b: true, c: 0.5 },
      { a: -1n, b: null, c: 2 },
    ],
  );
  assert.throws(() => tableFromColumns(cols, { a: [1n], b: [true, false], c: [1] }), /has 2 values, expected 1/);
  assert.throws(() => tableFromColumns(cols, { a: [null], b: [true], c: [1] }), /null in a non-nullable column/);
  assert.throws(() => tableFromColumns(cols, { a: [1], b: [true], c: [1] }), /not a valid int64/);
  assert.throws(() => tableFromColumns(cols, { a: [1n], b: [true], c: [1], d: [1] }), /unknown columns: d/);
});

// pyarrow is what most readers of the tables will use; checked when the machine has it.
const python = process.env.FIBERSCOPE_PYTHON ?? 'python3';
const hasPyarrow = spawnSync(python, ['-c', 'import pyarrow'], { stdio: 'ignore' }).status === 0;

test('pyarrow reads a sample table file with the same values', { skip: hasPyarrow ? false : `pyarrow is not importable by ${python}` }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'fiberscope-arrow-'));
  try {
    const path = join(dir, 'samples.arrow');
    const rows = [okRow(0), okRow(3), errorRow];
    await writeFile(path, sampleRowsToIpc(rows, PROBES));
    const script = [
      'import json, sys, pyarrow.ipc as ipc',
      't = ipc.open_file(sys.argv[1]).read_all()',
      'print(json.dumps({"meta": {k.decode(): v.decode() for k, v in t.schema.metadata.items()},',
      '  "types": {f.name: str(f.type) for f in t.schema}, "rows": t.to_pylist()}))',
    ].join('\n');
    const out = spawnSync(python, ['-c', script, path], { encoding: 'utf8' });
    assert.equal(out.status, 0, out.stderr);
    const parsed = JSON.parse(out.stdout) as { meta: Record<string, string>; types: Record<string, string>; rows: Record<string, unknown>[] };
    assert.equal(parsed.meta['fiberscope.schema_version'], String(SCHEMA_VERSION));
    assert.equal(parsed.types.sample_index, 'int32');
    assert.equal(parsed.types.cost, 'double');
    assert.equal(parsed.types.seed, 'string');
    assert.equal(parsed.rows.length, 3);
    assert.equal(parsed.rows[1]?.seed, okRow(3).seed);
    assert.equal(parsed.rows[1]?.probe_hflip, 3.5);
    assert.equal(parsed.rows[1]?.pixel_distance, Math.PI * 3);
    assert.equal(parsed.rows[2]?.cost, null);
    assert.equal(parsed.rows[2]?.error, errorRow.error);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
