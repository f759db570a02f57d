import { onnx, toNumber } from './proto.ts';
import type { OnnxTypes } from './proto.ts';
import { DataType, bytesPerElement, dataTypeName, numel } from './ir.ts';
import type { Tensor } from './ir.ts';

/** Where an external-data tensor's bytes live, as written in the model file. */
export interface ExternalRef {
  location: string;
  offset: number;
  length: number | undefined;
}

export function externalRef(t: OnnxTypes.ITensorProto): ExternalRef | undefined {
  if (t.dataLocation !== onnx.TensorProto.DataLocation.EXTERNAL) return undefined;
  const kv = Object.fromEntries((t.externalData ?? []).map((e) => [e.key ?? '', e.value ?? '']));
  if (!kv['location']) throw new Error(`tensor '${t.name}' has external data without a location`);
  return {
    location: kv['location'],
    offset: kv['offset'] ? Number(kv['offset']) : 0,
    length: kv['length'] ? Number(kv['length']) : undefined,
  };
}

/** Converts a TensorProto (raw_data or typed fields) to the IR's raw bytes; external data must be resolved first. */
export function tensorFromProto(t: OnnxTypes.ITensorProto, raw?: Uint8Array): Tensor {
  const dataType = t.dataType ?? 0;
  const dims = (t.dims ?? []).map(toNumber);
  const name = t.name ?? '';
  if (raw) return { name, dataType, dims, raw };
  if (t.rawData && t.rawData.length > 0) return { name, dataType, dims, raw: t.rawData };
  const n = numel(dims);
  const out = new Uint8Array(n * bytesPerElement(dataType));
  const view = new DataView(out.buffer);
  for (let i = 0; i < n; i++) {
    switch (dataType) {
      case DataType.float32:
        view.setFloat32(i * 4, t.floatData?.[i] ?? 0, true);
        break;
      case DataType.float64:
        view.setFloat64(i * 8, t.doubleData?.[i] ?? 0, true);
        break;
      case DataType.int64:
        view.setBigInt64(i * 8, BigInt(toNumber(t.int64Data?.[i])), true);
        break;
      case DataType.uint64:
      case DataType.uint32: {
        const v = toNumber(t.uint64Data?.[i]);
        if (dataType === DataType.uint32) view.setUint32(i * 4, v, true);
        else view.setBigUint64(i * 8, BigInt(v), true);
        break;
      }
      case DataType.int32:
        view.setInt32(i * 4, t.int32Data?.[i] ?? 0, true);
        break;
      case DataType.int16:
      case DataType.uint16:
      case DataType.float16:
      case DataType.bfloat16:
        view.setUint16(i * 2, (t.int32Data?.[i] ?? 0) & 0xffff, true);
        break;
      case DataType.int8:
      case DataType.uint8:
      case DataType.bool:
        view.setUint8(i, (t.int32Data?.[i] ?? 0) & 0xff);
        break;
      default:
        throw new Error(`tensor '${name}': unsupported data type ${dataTypeName(dataType)}`);
    }
  }
  return { name, dataType, dims, raw: out };
}

export function tensorToProto(t: Tensor, external?: ExternalRef): OnnxTypes.ITensorProto {
  if (external) {
    return {
      name: t.name,
      dataType: t.dataType,
      dims: t.dims,
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [
        { key: 'location', value: external.location },
        { key: 'offset', value: String(external.offset) },
        { key: 'length', value: String(external.length ?? t.raw.length) },
      ],
    };
  }
  return { name: t.name, dataType: t.dataType, dims: t.dims, rawData: t.raw };
}
