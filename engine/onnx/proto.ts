import onnxProto from 'onnx-proto';

/** The generated ONNX protobuf schema (onnx-proto). Only engine/onnx touches it directly. */
export const { onnx } = onnxProto;
export type { onnx as OnnxTypes } from 'onnx-proto';

/** protobufjs decodes int64 fields as Long objects when the `long` package is present. */
export function toNumber(v: number | { toNumber(): number } | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}
