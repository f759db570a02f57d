import {
  Bool,
  DataType,
  Field,
  Float32,
  Float64,
  Int32,
  Int64,
  makeData,
  Precision,
  RecordBatch,
  Schema,
  Struct,
  Table,
  tableFromIPC,
  tableToIPC,
  Utf8,
  vectorFromArray,
} from 'apache-arrow';
import { InputError } from '../engine/errors.ts';

/** The column types fiberscope's tables use; each maps to one Arrow type that pyarrow, DuckDB and pandas read. */
export type ColumnType = 'utf8' | 'int32' | 'int64' | 'float32' | 'float64' | 'bool';

export interface ColumnDef {
  name: string;
  type: ColumnType;
  nullable: boolean;
}

/** What each column type holds in JavaScript (int64 as bigint, so no precision is lost). */
export type ColumnValue = string | number | bigint | boolean | null;

function arrowType(type: ColumnType): DataType {
  switch (type) {
    case 'utf8':
      return new Utf8();
    case 'int32':
      return new Int32();
    case 'int64':
      return new Int64();
    case 'float32':
      return new Float32();
    case 'float64':
      return new Float64();
    case 'bool':
      return new Bool();
  }
}

/** An Arrow schema from column definitions, with string metadata (schema version and the like). */
export function makeSchema(columns: readonly ColumnDef[], metadata: Record<string, string> = {}): Schema {
  const names = new Set<string>();
  for (const c of columns) {
    if (names.has(c.name)) throw new Error(`duplicate column '${c.name}'`);
    names.add(c.name);
  }
  return new Schema(
    columns.map((c) => new Field(c.name, arrowType(c.type), c.nullable)),
    new Map(Object.entries(metadata)),
  );
}

function checkValue(column: ColumnDef, row: number, value: ColumnValue | undefined): void {
  if (value === null || value === undefined) {
    if (!column.nullable) throw new Error(`column '${column.name}' row ${row}: null in a non-nullable column`);
    return;
  }
  const ok = (() => {
    switch (column.type) {
      case 'utf8':
        return typeof value === 'string';
      case 'int32':
        return typeof value === 'number' && Number.isInteger(value) && value >= -(2 ** 31) && value < 2 ** 31;
      case 'int64':
        return typeof value === 'bigint' && value >= -(2n ** 63n) && value < 2n ** 63n;
      case 'float32':
      case 'float64':
        return typeof value === 'number';
      case 'bool':
        return typeof value === 'boolean';
    }
  })();
  if (!ok) throw new Error(`column '${column.name}' row ${row}: ${String(value)} is not a valid ${column.type}`);
}

/**
 * A table from whole columns, checked against the column definitions: equal lengths, no nulls in
 * non-nullable columns, values of the declared type and range.
 */
export function tableFromColumns(
  columns: readonly ColumnDef[],
  values: Readonly<Record<string, readonly ColumnValue[]>>,
  metadata: Record<string, string> = {},
): Table {
  const schema = makeSchema(columns, metadata);
  const extra = Object.keys(values).filter((name) => !columns.some((c) => c.name === name));
  if (extra.length > 0) throw new Error(`values for unknown columns: ${extra.join(', ')}`);
  let length: number | undefined;
  for (const column of columns) {
    const data = values[column.name];
    if (data === undefined) throw new Error(`no values for column '${column.name}'`);
    if (length !== undefined && data.length !== length) {
      throw new Error(`column '${column.name}' has ${data.length} values, expected ${length}`);
    }
    length = data.length;
    data.forEach((v, i) => checkValue(column, i, v));
  }
  if (length === undefined || length === 0) return new Table(schema);
  const children = schema.fields.map((field) => {
    const vector = vectorFromArray(values[field.name] as unknown[], field.type);
    const [data, ...more] = vector.data;
    if (data === undefined || more.length > 0) throw new Error(`column '${field.name}' built ${vector.data.length} chunks, expected 1`);
    return data;
  });
  const batch = new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length, nullCount: 0, children }));
  return new Table([batch]);
}

/** Arrow IPC *file* format (`ARROW1` magic, footer), the format pyarrow.ipc.open_file and DuckDB read. */
export function tableToIpcFile(table: Table): Uint8Array {
  return tableToIPC(table, 'file');
}

const MAGIC = 'ARROW1';

/** Reads Arrow IPC file bytes; `input` names the source in the error when they are not an Arrow file. */
export function tableFromIpcFile(bytes: Uint8Array, input = 'Arrow table'): Table {
  const text = (from: number, to: number): string => String.fromCharCode(...bytes.subarray(from, to));
  if (bytes.length < 12 || text(0, 6) !== MAGIC || text(bytes.length - 6, bytes.length) !== MAGIC) {
    throw new InputError(input, `expected an Arrow IPC file ('${MAGIC}' at both ends), got ${bytes.length} bytes of something else`);
  }
  try {
    return tableFromIPC(bytes);
  } catch (err) {
    throw new InputError(input, `expected an Arrow IPC file (${(err as Error).message})`, { cause: err });
  }
}

/** The type of a column as `ColumnType` (IPC readers give generic Int/Float types), or undefined when it is none of them. */
export function columnTypeOf(field: Field): ColumnType | undefined {
  const t: DataType = field.type;
  if (DataType.isUtf8(t)) return 'utf8';
  if (DataType.isBool(t)) return 'bool';
  if (DataType.isInt(t) && t.isSigned) return t.bitWidth === 32 ? 'int32' : t.bitWidth === 64 ? 'int64' : undefined;
  if (DataType.isFloat(t)) return t.precision === Precision.DOUBLE ? 'float64' : t.precision === Precision.SINGLE ? 'float32' : undefined;
  return undefined;
}
