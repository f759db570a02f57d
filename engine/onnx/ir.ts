import type { OnnxTypes } from './proto.ts';

/**
 * The graph IR fiberscope works on: plain objects close to ONNX's protobuf, with int64 fields as
 * numbers and tensor payloads kept as raw little-endian bytes (views into the file buffer, never
 * copied or decoded element by element, so large models stay cheap to load and save).
 */

/** ONNX TensorProto.DataType codes used by the engine. */
export const DataType = {
  float32: 1,
  uint8: 2,
  int8: 3,
  uint16: 4,
  int16: 5,
  int32: 6,
  int64: 7,
  string: 8,
  bool: 9,
  float16: 10,
  float64: 11,
  uint32: 12,
  uint64: 13,
  bfloat16: 16,
} as const;

const BYTES: Record<number, number> = {
  1: 4,
  2: 1,
  3: 1,
  4: 2,
  5: 2,
  6: 4,
  7: 8,
  9: 1,
  10: 2,
  11: 8,
  12: 4,
  13: 8,
  16: 2,
};

export function dataTypeName(code: number): string {
  const hit = Object.entries(DataType).find(([, v]) => v === code);
  return hit ? hit[0] : `dtype#${code}`;
}

export function bytesPerElement(dataType: number): number {
  const n = BYTES[dataType];
  if (n === undefined) throw new Error(`no fixed element size for ${dataTypeName(dataType)}`);
  return n;
}

export function isFloat(dataType: number): boolean {
  return (
    dataType === DataType.float32 ||
    dataType === DataType.float64 ||
    dataType === DataType.float16 ||
    dataType === DataType.bfloat16
  );
}

/** A dimension: a size, a symbolic name, or unknown (null). */
export type Dim = number | string | null;

export interface ValueInfo {
  name: string;
  /** 0 when the type is not declared. */
  dataType: number;
  /** null when the rank is unknown. */
  shape: Dim[] | null;
}

export interface Tensor {
  name: string;
  dataType: number;
  dims: number[];
  /** Little-endian element bytes, as in TensorProto.raw_data. */
  raw: Uint8Array;
}

export type Attribute = OnnxTypes.IAttributeProto;

export interface Node {
  name: string;
  opType: string;
  /** '' is the default ONNX domain ('ai.onnx'). */
  domain: string;
  /** '' marks an absent optional input or output. */
  inputs: string[];
  outputs: string[];
  attributes: Attribute[];
}

export interface Graph {
  name: string;
  nodes: Node[];
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  initializers: Tensor[];
  valueInfo: ValueInfo[];
}

export interface Model {
  irVersion: number;
  /** Opset version per domain; '' is the default domain. */
  opsets: Record<string, number>;
  producerName: string;
  producerVersion: string;
  graph: Graph;
  metadata: Record<string, string>;
  /** Model-local functions (kept as decoded, re-encoded unchanged). */
  functions?: OnnxTypes.IFunctionProto[];
}

/** Opset of the default domain (ai.onnx). */
/** A model with no nodes yet: the given graph inputs and outputs, default-domain opset `opset`. */
export function emptyModel(name: string, opset: number, inputs: ValueInfo[], outputs: ValueInfo[]): Model {
  return {
    irVersion: 8,
    opsets: { '': opset },
    producerName: 'fiberscope',
    producerVersion: '',
    metadata: {},
    graph: { name, nodes: [], inputs, outputs, initializers: [], valueInfo: [] },
  };
}

export function defaultOpset(model: Model): number {
  const v = model.opsets[''] ?? model.opsets['ai.onnx'];
  if (v === undefined) throw new Error('model imports no default-domain opset');
  return v;
}

export function numel(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** Element values of a small tensor, as numbers (int64 beyond 2^53 lose precision). */
export function tensorValues(t: Tensor): number[] {
  const buf = t.raw;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = numel(t.dims);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    switch (t.dataType) {
      case DataType.float32:
        out[i] = view.getFloat32(i * 4, true);
        break;
      case DataType.float64:
        out[i] = view.getFloat64(i * 8, true);
        break;
      case DataType.int64:
        out[i] = Number(view.getBigInt64(i * 8, true));
        break;
      case DataType.uint64:
        out[i] = Number(view.getBigUint64(i * 8, true));
        break;
      case DataType.int32:
        out[i] = view.getInt32(i * 4, true);
        break;
      case DataType.uint32:
        out[i] = view.getUint32(i * 4, true);
        break;
      case DataType.int16:
        out[i] = view.getInt16(i * 2, true);
        break;
      case DataType.uint16:
        out[i] = view.getUint16(i * 2, true);
        break;
      case DataType.int8:
        out[i] = view.getInt8(i);
        break;
      case DataType.uint8:
      case DataType.bool:
        out[i] = view.getUint8(i);
        break;
      case DataType.float16:
        out[i] = halfToFloat(view.getUint16(i * 2, true));
        break;
      default:
        throw new Error(`cannot read values of a ${dataTypeName(t.dataType)} tensor '${t.name}'`);
    }
  }
  return out;
}

/** A tensor from element values, encoded little-endian. */
export function makeTensor(name: string, dataType: number, dims: readonly number[], values: ArrayLike<number>): Tensor {
  const n = numel(dims);
  if (values.length !== n) throw new Error(`tensor '${name}': ${values.length} values for dims [${dims.join(',')}]`);
  const size = bytesPerElement(dataType);
  const raw = new Uint8Array(n * size);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < n; i++) {
    const v = values[i] as number;
    switch (dataType) {
      case DataType.float32:
        view.setFloat32(i * 4, v, true);
        break;
      case DataType.float64:
        view.setFloat64(i * 8, v, true);
        break;
      case DataType.int64:
        view.setBigInt64(i * 8, BigInt(Math.trunc(v)), true);
        break;
      case DataType.int32:
        view.setInt32(i * 4, v, true);
        break;
      case DataType.int8:
        view.setInt8(i, v);
        break;
      case DataType.uint8:
      case DataType.bool:
        view.setUint8(i, v);
        break;
      case DataType.float16:
        view.setUint16(i * 2, floatToHalf(v), true);
        break;
      default:
        throw new Error(`cannot encode values of ${dataTypeName(dataType)}`);
    }
  }
  return { name, dataType, dims: [...dims], raw };
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE half-precision bits of a number, rounded to nearest even (for float16 constants). */
export function floatToHalf(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    const m = (mant | 0x800000) >>> (1 - e);
    const round = (m >>> 12) & 1 && ((m & 0x1fff) !== 0x1000 || (m >>> 13) & 1) ? 1 : 0;
    return sign | ((m >>> 13) + round);
  }
  const half = sign | (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  return rest > 0x1000 || (rest === 0x1000 && half & 1) ? half + 1 : half;
}

export function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Every tensor name a graph defines or uses. */
export function tensorNames(graph: Graph): Set<string> {
  const names = new Set<string>();
  for (const v of graph.inputs) names.add(v.name);
  for (const t of graph.initializers) names.add(t.name);
  for (const n of graph.nodes) {
    for (const i of n.inputs) if (i) names.add(i);
    for (const o of n.outputs) if (o) names.add(o);
  }
  for (const v of graph.outputs) names.add(v.name);
  return names;
}

export function cloneModel(model: Model): Model {
  const g = model.graph;
  return {
    ...model,
    opsets: { ...model.opsets },
    metadata: { ...model.metadata },
    graph: {
      name: g.name,
      nodes: g.nodes.map((n) => ({
        ...n,
        inputs: [...n.inputs],
        outputs: [...n.outputs],
        attributes: [...n.attributes],
      })),
      inputs: g.inputs.map((v) => ({ ...v, shape: v.shape && [...v.shape] })),
      outputs: g.outputs.map((v) => ({ ...v, shape: v.shape && [...v.shape] })),
      initializers: g.initializers.map((t) => ({ ...t, dims: [...t.dims] })),
      valueInfo: g.valueInfo.map((v) => ({ ...v, shape: v.shape && [...v.shape] })),
    },
  };
}
