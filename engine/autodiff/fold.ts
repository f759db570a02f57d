import { attrInt, attrInts, attrTensor } from '../onnx/attributes.ts';
import { DataType, isFloat, makeTensor, numel, tensorValues } from '../onnx/ir.ts';
import type { Model, Node, Tensor } from '../onnx/ir.ts';

/** Largest folded tensor: shape vectors and pad lists, never activations. */
const MAX_ELEMENTS = 64;

interface Value {
  dataType: number;
  dims: number[];
  data: number[];
}

/**
 * Values of the small integer tensors that exports compute from shapes (Shape → Gather/Slice →
 * Concat/arithmetic → Resize sizes, Pad pads, Reshape/Expand shapes, ConstantOfShape dims), folded
 * where every tensor they read has static dims or a constant value. Added to `constants` so that
 * rules needing constant pads, sizes or shapes see them. Nothing depending on tensor data is folded.
 */
export function foldShapeValues(
  model: Model,
  dimsOf: (name: string) => readonly number[] | undefined,
  constants: Map<string, Tensor>,
): void {
  const opset = model.opsets[''] ?? model.opsets['ai.onnx'] ?? 0;
  const values = new Map<string, Value>();
  for (const [name, t] of constants) {
    if (numel(t.dims) <= MAX_ELEMENTS && t.dataType !== DataType.string)
      values.set(name, { dataType: t.dataType, dims: [...t.dims], data: tensorValues(t) });
  }
  for (const n of model.graph.nodes) {
    if (n.domain !== '' && n.domain !== 'ai.onnx') continue;
    const out = n.outputs[0];
    if (!out || values.has(out)) continue;
    const v = evaluate(n, values, dimsOf, opset);
    if (!v || v.data.length > MAX_ELEMENTS || v.data.some((x) => !Number.isFinite(x))) continue;
    values.set(out, v);
    constants.set(out, makeTensor(out, v.dataType, v.dims, v.data));
  }
}

function stridesOf(dims: readonly number[]): number[] {
  const strides = new Array<number>(dims.length).fill(1);
  for (let k = dims.length - 2; k >= 0; k--) strides[k] = strides[k + 1]! * dims[k + 1]!;
  return strides;
}

/** The sub-tensor taking, along each axis, the listed indices in order. */
function gather(x: Value, picks: readonly number[][]): Value {
  const strides = stridesOf(x.dims);
  let offsets = [0];
  picks.forEach((list, axis) => {
    offsets = offsets.flatMap((o) => list.map((i) => o + i * strides[axis]!));
  });
  return { dataType: x.dataType, dims: picks.map((p) => p.length), data: offsets.map((o) => x.data[o]!) };
}

function broadcast(a: Value, b: Value): number[] | undefined {
  if (a.data.length === 1) return b.dims.length >= a.dims.length ? b.dims : a.dims;
  if (b.data.length === 1) return a.dims.length >= b.dims.length ? a.dims : b.dims;
  return a.dims.join() === b.dims.join() ? a.dims : undefined;
}

function elementwise(n: Node, ins: Value[], f: (...xs: number[]) => number, dataType?: number): Value | undefined {
  let dims = ins[0]!.dims;
  for (const v of ins.slice(1)) {
    const d = broadcast({ ...ins[0]!, dims }, v);
    if (!d) return undefined;
    dims = d;
  }
  const size = numel(dims);
  const at = (v: Value, i: number): number => v.data[v.data.length === 1 ? 0 : i]!;
  const data = Array.from({ length: size }, (_, i) => f(...ins.map((v) => at(v, i))));
  const type = dataType ?? ins.find((v) => v.dataType !== DataType.bool)?.dataType ?? ins[0]!.dataType;
  return { dataType: type, dims, data: isFloat(type) ? data : data.map(Math.trunc) };
}

function evaluate(
  n: Node,
  values: ReadonlyMap<string, Value>,
  dimsOf: (name: string) => readonly number[] | undefined,
  opset: number,
): Value | undefined {
  const present = n.inputs.filter(Boolean);
  if (n.opType === 'Shape' || n.opType === 'Size') {
    const dims = dimsOf(n.inputs[0] ?? '');
    if (!dims) return undefined;
    if (n.opType === 'Size') return { dataType: DataType.int64, dims: [], data: [numel(dims)] };
    const r = dims.length;
    const clampAxis = (a: number): number => Math.min(Math.max(a < 0 ? a + r : a, 0), r);
    const start = opset >= 15 ? clampAxis(attrInt(n, 'start', 0)) : 0;
    const end = opset >= 15 ? clampAxis(attrInt(n, 'end', r)) : r;
    const data = dims.slice(start, Math.max(start, end));
    return { dataType: DataType.int64, dims: [data.length], data };
  }
  const ins = n.inputs.map((i) => (i ? values.get(i) : undefined));
  if (present.length === 0 || n.inputs.some((i, k) => i && !ins[k])) return undefined;
  const x = ins[0]!;
  switch (n.opType) {
    case 'Identity':
      return x;
    case 'Cast': {
      const to = attrInt(n, 'to', DataType.int64);
      return { dataType: to, dims: x.dims, data: isFloat(to) ? x.data : x.data.map(Math.trunc) };
    }
    case 'Neg':
      return elementwise(n, [x], (a) => -a);
    case 'Abs':
      return elementwise(n, [x], Math.abs);
    case 'Floor':
      return elementwise(n, [x], Math.floor);
    case 'Ceil':
      return elementwise(n, [x], Math.ceil);
    case 'Add':
      return elementwise(n, ins as Value[], (a, b) => a! + b!);
    case 'Sub':
      return elementwise(n, ins as Value[], (a, b) => a! - b!);
    case 'Mul':
      return elementwise(n, ins as Value[], (a, b) => a! * b!);
    case 'Div':
      return elementwise(n, ins as Value[], (a, b) => a! / b!);
    case 'Mod':
      // fmod = 0 (integers): the result takes the divisor's sign, as Python's %.
      return elementwise(n, ins as Value[], (a, b) =>
        attrInt(n, 'fmod', 0) === 1 ? a! % b! : a! - b! * Math.floor(a! / b!),
      );
    case 'Max':
      return elementwise(n, ins as Value[], Math.max);
    case 'Min':
      return elementwise(n, ins as Value[], Math.min);
    case 'Equal':
      return elementwise(n, ins as Value[], (a, b) => (a === b ? 1 : 0), DataType.bool);
    case 'Where': {
      const [c, a, b] = ins as Value[];
      return elementwise(n, [c!, a!, b!], (p, q, r) => (p ? q! : r!), a!.dataType);
    }
    case 'Unsqueeze':
    case 'Squeeze': {
      const axes = (opset >= 13 ? ins[1]?.data : attrInts(n, 'axes')) ?? [];
      let dims = [...x.dims];
      if (n.opType === 'Squeeze') {
        const r = dims.length;
        const drop = axes.length ? axes.map((a) => (a + r) % r) : dims.flatMap((d, i) => (d === 1 ? [i] : []));
        dims = dims.filter((_, i) => !drop.includes(i));
      } else {
        const r = dims.length + axes.length;
        for (const a of axes.map((a) => (a + r) % r).sort((p, q) => p - q)) dims.splice(a, 0, 1);
      }
      return { ...x, dims };
    }
    case 'Reshape': {
      const shape = ins[1]?.data;
      if (!shape) return undefined;
      const dims = shape.map((d, i) => (d === 0 ? (x.dims[i] ?? 0) : d));
      const known = dims.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
      return { ...x, dims: dims.map((d) => (d === -1 ? x.data.length / known : d)) };
    }
    case 'Concat': {
      if (ins.some((v) => v!.dims.length !== 1)) return undefined;
      const data = (ins as Value[]).flatMap((v) => v.data);
      return { dataType: x.dataType, dims: [data.length], data };
    }
    case 'Gather': {
      const idx = ins[1]!;
      if (x.dims.length !== 1 || attrInt(n, 'axis', 0) !== 0) return undefined;
      const data = idx.data.map((i) => x.data[i < 0 ? i + x.data.length : i]!);
      return data.some((d) => d === undefined) ? undefined : { dataType: x.dataType, dims: idx.dims, data };
    }
    case 'Slice': {
      if (opset < 10) return undefined;
      const [starts, ends, axesIn, steps] = [ins[1]?.data, ins[2]?.data, ins[3]?.data, ins[4]?.data];
      if (!starts || !ends) return undefined;
      const r = x.dims.length;
      const picks = x.dims.map((d) => Array.from({ length: d }, (_, i) => i));
      (axesIn ?? starts.map((_, i) => i)).forEach((a, k) => {
        const axis = (a + r) % r;
        const len = x.dims[axis]!;
        const step = steps?.[k] ?? 1;
        const at = (v: number): number => (v < 0 ? v + len : v);
        const clamp = (v: number, lo: number, hi: number): number => Math.min(Math.max(v, lo), hi);
        const out: number[] = [];
        if (step > 0)
          for (let i = clamp(at(starts[k]!), 0, len); i < clamp(at(ends[k]!), 0, len); i += step) out.push(i);
        else
          for (let i = clamp(at(starts[k]!), 0, len - 1); i > clamp(at(ends[k]!), -1, len - 1); i += step) out.push(i);
        picks[axis] = out;
      });
      return gather(x, picks);
    }
    case 'Transpose': {
      const r = x.dims.length;
      const perm = attrInts(n, 'perm') ?? Array.from({ length: r }, (_, i) => r - 1 - i);
      const dims = perm.map((p) => x.dims[p]!);
      const strides = stridesOf(x.dims);
      const data: number[] = [];
      const index = new Array<number>(r).fill(0);
      for (let i = 0; i < numel(dims); i++) {
        let rest = i;
        for (let k = r - 1; k >= 0; k--) {
          index[k] = rest % dims[k]!;
          rest = Math.floor(rest / dims[k]!);
        }
        data.push(x.data[perm.reduce((off, p, k) => off + index[k]! * strides[p]!, 0)]!);
      }
      return { dataType: x.dataType, dims, data };
    }
    case 'ConstantOfShape': {
      const dims = x.data;
      if (numel(dims) > MAX_ELEMENTS) return undefined;
      const t = attrTensor(n, 'value');
      const fill = t ? (tensorValues(t)[0] ?? 0) : 0;
      return { dataType: t?.dataType ?? DataType.float32, dims, data: new Array<number>(numel(dims)).fill(fill) };
    }
    default:
      return undefined;
  }
}
