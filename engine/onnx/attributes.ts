import { onnx, toNumber } from './proto.ts';
import type { Attribute, Node, Tensor } from './ir.ts';
import { tensorFromProto, tensorToProto } from './tensor-proto.ts';

const T = onnx.AttributeProto.AttributeType;

/** A float attribute value; plain numbers are ints (ONNX types attributes, JS numbers don't). */
export interface FloatAttr {
  readonly float: number;
}
export interface FloatsAttr {
  readonly floats: readonly number[];
}
export const float = (value: number): FloatAttr => ({ float: value });
export const floats = (values: readonly number[]): FloatsAttr => ({ floats: values });

export type AttrInput = number | readonly number[] | string | FloatAttr | FloatsAttr | Tensor;
export type Attrs = Record<string, AttrInput | undefined>;

function isTensor(v: AttrInput): v is Tensor {
  return typeof v === 'object' && 'raw' in v;
}

/** Builds ONNX attributes from typed values; undefined entries are left out. */
export function makeAttributes(attrs: Attrs | undefined): Attribute[] {
  const out: Attribute[] = [];
  for (const [name, v] of Object.entries(attrs ?? {})) {
    if (v === undefined) continue;
    if (typeof v === 'number') {
      if (!Number.isInteger(v)) throw new Error(`attribute '${name}': ${v} is not an int; wrap floats with float()`);
      out.push({ name, type: T.INT, i: v });
    } else if (typeof v === 'string') {
      out.push({ name, type: T.STRING, s: new TextEncoder().encode(v) });
    } else if (Array.isArray(v)) {
      const ints = v as readonly number[];
      if (!ints.every(Number.isInteger))
        throw new Error(`attribute '${name}': ints expected; wrap floats with floats()`);
      out.push({ name, type: T.INTS, ints: [...ints] });
    } else if (isTensor(v as AttrInput)) {
      out.push({ name, type: T.TENSOR, t: tensorToProto(v as Tensor) });
    } else if ('float' in (v as object)) {
      out.push({ name, type: T.FLOAT, f: (v as FloatAttr).float });
    } else {
      out.push({ name, type: T.FLOATS, floats: [...(v as FloatsAttr).floats] });
    }
  }
  return out;
}

function find(node: Node, name: string): Attribute | undefined {
  return node.attributes.find((a) => a.name === name);
}

export function attrInt(node: Node, name: string, fallback: number): number;
export function attrInt(node: Node, name: string): number | undefined;
export function attrInt(node: Node, name: string, fallback?: number): number | undefined {
  const a = find(node, name);
  return a ? toNumber(a.i) : fallback;
}

export function attrFloat(node: Node, name: string, fallback: number): number;
export function attrFloat(node: Node, name: string): number | undefined;
export function attrFloat(node: Node, name: string, fallback?: number): number | undefined {
  const a = find(node, name);
  return a ? (a.f ?? 0) : fallback;
}

export function attrInts(node: Node, name: string): number[] | undefined {
  const a = find(node, name);
  return a ? (a.ints ?? []).map(toNumber) : undefined;
}

export function attrString(node: Node, name: string, fallback: string): string;
export function attrString(node: Node, name: string): string | undefined;
export function attrString(node: Node, name: string, fallback?: string): string | undefined {
  const a = find(node, name);
  return a ? new TextDecoder().decode(a.s ?? new Uint8Array()) : fallback;
}

export function attrTensor(node: Node, name: string): Tensor | undefined {
  const a = find(node, name);
  return a?.t ? tensorFromProto(a.t) : undefined;
}
