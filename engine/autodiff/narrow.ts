import { attrInt, attrInts } from '../onnx/attributes.ts';
import { GraphBuilder } from '../onnx/builder.ts';
import { DataType, defaultOpset, numel, tensorValues } from '../onnx/ir.ts';
import type { Model, Node, Tensor } from '../onnx/ir.ts';

export interface RowShape {
  dataType: number;
  dims: number[];
}

/** Ops whose every output element reads the inputs' elements at the same (broadcast) index. */
const ELEMENTWISE = new Set([
  'Abs',
  'Add',
  'Cast',
  'Div',
  'Elu',
  'Erf',
  'Exp',
  'Gelu',
  'HardSigmoid',
  'HardSwish',
  'Identity',
  'LeakyRelu',
  'Log',
  'Mish',
  'Mul',
  'Neg',
  'Pow',
  'Reciprocal',
  'Relu',
  'Sigmoid',
  'Softplus',
  'Sqrt',
  'Sub',
  'Tanh',
  'Where',
]);

/** A single row r of axis `axis` that the node's reader keeps. */
interface Selection {
  node: Node;
  input: string;
  axis: number;
  row: number;
  /** Gather with a scalar index drops the axis; a one-element Gather or Slice keeps it. */
  keepsAxis: boolean;
}

/**
 * Row narrowing before differentiation. Where the output reads one row of a tensor on one axis (a
 * ViT's class token: the last LayerNorm, then Gather index 0 on the token axis), the nodes that feed
 * nothing but that row are recomputed on it alone: row-wise ops (elementwise with broadcasting,
 * LayerNormalization, Softmax and reductions over other axes, MatMul rows, Transpose, Reshape that
 * keeps the axis, Squeeze, Unsqueeze) take the row of their inputs, and a tensor that something else still
 * reads in full is cut to the row by a Slice. For ViT-S/14 at 224² that is the last block's MLP,
 * projection, query rows and attention rows on 1 token instead of 257, forward and backward alike.
 * Exact: every narrowed value is the same arithmetic on the same numbers. Returns undefined where no
 * single-row selection feeds the graph; the model given is not changed.
 */
export function narrowRows(
  model: Model,
  shapes: ReadonlyMap<string, RowShape>,
  constants: ReadonlyMap<string, Tensor>,
  keep: ReadonlySet<string>,
): { model: Model; shapes: Map<string, RowShape> } | undefined {
  const nodes = model.graph.nodes;
  const opset = defaultOpset(model);
  const dims = (name: string) => shapes.get(name)?.dims;
  const outputs = new Set([...model.graph.outputs.map((v) => v.name), ...keep]);
  // Readers among the nodes that something asked for depends on (a dead reader reads nothing).
  const wanted = new Set(outputs);
  const live = new Set<Node>();
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i]!;
    if (!n.outputs.some((o) => o && wanted.has(o))) continue;
    live.add(n);
    for (const x of n.inputs) if (x) wanted.add(x);
  }
  const readers = new Map<string, Node[]>();
  const producers = new Map<string, Node>();
  for (const n of nodes) {
    if (live.has(n)) for (const x of new Set(n.inputs)) if (x) readers.set(x, [...(readers.get(x) ?? []), n]);
    for (const o of n.outputs) if (o) producers.set(o, n);
  }
  /** Per tensor, the narrowed readers and the axis each takes the row on. */
  let demands = new Map<string, Map<Node, number>>();
  /** Narrowed nodes: the axis of their output, and of each input cut to the row (null: read whole). */
  let narrowed = new Map<Node, { axis: number; axes: (number | null)[] }>();
  let seed: Selection | undefined;
  // The last single-row selection that has something to narrow above it.
  for (let at = nodes.length - 1; at >= 0 && narrowed.size === 0; at--) {
    seed = live.has(nodes[at]!) ? selection(nodes[at]!, dims, constants) : undefined;
    if (!seed) continue;
    demands = new Map();
    narrowed = new Map();
    const demand = (x: string, reader: Node, axis: number) => {
      const d = demands.get(x) ?? new Map<Node, number>();
      d.set(reader, axis);
      demands.set(x, d);
    };
    demand(seed.input, seed.node, seed.axis);
    for (let i = at - 1; i >= 0; i--) {
      const n = nodes[i]!;
      const out = n.outputs[0];
      if (!out || n.outputs.slice(1).some(Boolean) || outputs.has(out) || !standard(n)) continue;
      const axis = wholeRowAxis(out, readers.get(out) ?? [], demands);
      if (axis === undefined) continue;
      const axes = inputAxes(n, axis, dims, constants, opset);
      // Every input cut to the row needs its static shape (the row's shape is written out).
      if (!axes || n.inputs.some((x, k) => x && typeof axes[k] === 'number' && !dims(x))) continue;
      narrowed.set(n, { axis, axes });
      n.inputs.forEach((x, k) => {
        const ax = axes[k];
        if (x && typeof ax === 'number') demand(x, n, ax);
      });
    }
  }
  if (!seed || narrowed.size === 0) return undefined;
  const seedAt = nodes.indexOf(seed.node);

  // Emission: Slices and narrowed copies in the seed's place, in topological order. The full nodes
  // stay; those nothing reads any more drop out of the gradient graph with its pruning.
  const out: Model = { ...model, graph: { ...model.graph, nodes: [...nodes] } };
  const b = new GraphBuilder(out.graph, opset);
  const extended = new Map(shapes);
  const rowName = new Map<string, string>();
  const slices = new Map<string, string>();
  const one = (name: string, axis: number): number[] => dims(name)!.map((d, i) => (i === axis ? 1 : d));
  const rowOf = (x: string, axis: number): string => {
    const producer = producers.get(x);
    if (producer && narrowed.get(producer)?.axis === axis) return rowName.get(x)!;
    const key = `${x}|${axis}`;
    let s = slices.get(key);
    if (!s) {
      s = b.op('Slice', [x, b.int64s([seed!.row]), b.int64s([seed!.row + 1]), b.int64s([axis])]);
      extended.set(s, { dataType: shapes.get(x)?.dataType ?? DataType.float32, dims: one(x, axis) });
      slices.set(key, s);
    }
    return s;
  };
  for (const n of nodes.slice(0, seedAt)) {
    const plan = narrowed.get(n);
    if (!plan) continue;
    const { axis, axes } = plan;
    const inputs = n.inputs.map((x, k) => {
      const ax = axes[k];
      return x && typeof ax === 'number' ? rowOf(x, ax) : x;
    });
    const o = n.outputs[0]!;
    if (n.opType === 'Reshape') inputs[1] = b.int64s(one(o, axis), 'shape');
    const name = b.fresh(`${o}_row`);
    out.graph.nodes.push({ ...n, name: `${n.name || n.opType}_row`, inputs, outputs: [name] });
    rowName.set(o, name);
    extended.set(name, { dataType: shapes.get(o)?.dataType ?? DataType.float32, dims: one(o, axis) });
  }
  const row = rowOf(seed.input, seed.axis);
  const result = seed.node.outputs[0]!;
  if (seed.keepsAxis) b.op('Identity', [row], undefined, result);
  else b.op('Gather', [row, b.constant(DataType.int64, [], [0], 'row')], { axis: seed.axis }, result);
  const emitted = out.graph.nodes.slice(nodes.length);
  out.graph.nodes = [...nodes.slice(0, seedAt), ...emitted, ...nodes.slice(seedAt + 1)];
  return { model: out, shapes: extended };
}

const standard = (n: Node): boolean => n.domain === '' || n.domain === 'ai.onnx';

/** The axis every reader of `x` takes one row on, when all of them are narrowed alike; else undefined. */
function wholeRowAxis(
  x: string,
  readers: readonly Node[],
  demands: ReadonlyMap<string, Map<Node, number>>,
): number | undefined {
  const d = demands.get(x);
  if (!d || readers.length === 0 || readers.some((r) => !d.has(r))) return undefined;
  const axes = new Set(d.values());
  return axes.size === 1 ? [...axes][0] : undefined;
}

function constInts(name: string | undefined, constants: ReadonlyMap<string, Tensor>): number[] | undefined {
  const t = name ? constants.get(name) : undefined;
  return t ? tensorValues(t) : undefined;
}

/** A Gather of one constant index, or a Slice of one row, on a non-batch axis longer than 1. */
function selection(
  n: Node,
  dims: (name: string) => number[] | undefined,
  constants: ReadonlyMap<string, Tensor>,
): Selection | undefined {
  if (!standard(n) || !n.inputs[0]) return undefined;
  const d = dims(n.inputs[0]);
  if (!d) return undefined;
  const norm = (a: number) => (a < 0 ? a + d.length : a);
  if (n.opType === 'Gather') {
    const t = constants.get(n.inputs[1] ?? '');
    if (!t || numel(t.dims) !== 1) return undefined;
    const axis = norm(attrInt(n, 'axis', 0));
    const size = d[axis]!;
    let row = tensorValues(t)[0]!;
    if (row < 0) row += size;
    if (axis === 0 || size <= 1 || row < 0 || row >= size) return undefined;
    return { node: n, input: n.inputs[0], axis, row, keepsAxis: t.dims.length === 1 };
  }
  if (n.opType === 'Slice' && n.inputs.length >= 4) {
    const [starts, ends, axes, steps] = [1, 2, 3, 4].map((i) => constInts(n.inputs[i], constants));
    if (!starts || !ends || !axes || starts.length !== 1 || (steps && steps[0] !== 1)) return undefined;
    const axis = norm(axes[0]!);
    const size = d[axis]!;
    const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + size : v, 0), size);
    const [s, e] = [clamp(starts[0]!), clamp(ends[0]!)];
    if (axis === 0 || size <= 1 || e - s !== 1) return undefined;
    return { node: n, input: n.inputs[0], axis, row: s, keepsAxis: true };
  }
  return undefined;
}

/**
 * For a node whose output is wanted at one row of `axis`: the axis each input then needs the same
 * row of (null: the input is read whole, e.g. weights or a broadcast dim of 1), or undefined where
 * the op does not map rows to rows.
 */
function inputAxes(
  n: Node,
  axis: number,
  dims: (name: string) => number[] | undefined,
  constants: ReadonlyMap<string, Tensor>,
  opset: number,
): (number | null)[] | undefined {
  const od = dims(n.outputs[0]!);
  if (!od || od[axis] === undefined) return undefined;
  const ro = od.length;
  const broadcast = (x: string): number | null | undefined => {
    const d = dims(x);
    if (!d) return undefined;
    const k = axis - (ro - d.length);
    return k < 0 || d[k] === 1 ? null : k;
  };
  const all = (f: (x: string, k: number) => number | null | undefined): (number | null)[] | undefined => {
    const r = n.inputs.map((x, k) => (x ? f(x, k) : null));
    return r.some((v) => v === undefined) ? undefined : (r as (number | null)[]);
  };
  switch (n.opType) {
    case 'LayerNormalization': {
      const a = attrInt(n, 'axis', -1);
      if (axis >= (a < 0 ? a + ro : a)) return undefined;
      return all((_, k) => (k === 0 ? axis : null));
    }
    case 'Softmax':
    case 'LogSoftmax': {
      const a = attrInt(n, 'axis', opset >= 13 ? -1 : 1);
      const an = a < 0 ? a + ro : a;
      if (opset >= 13 ? axis === an : axis >= an) return undefined;
      return [axis];
    }
    case 'MatMul': {
      const [ad, bd] = [dims(n.inputs[0]!), dims(n.inputs[1]!)];
      if (!ad || !bd || ad.length < 2 || bd.length < 2 || axis === ro - 1) return undefined;
      if (axis === ro - 2) return [ad[ad.length - 2] === 1 ? null : ad.length - 2, null];
      return all((x) => broadcast(x));
    }
    case 'Transpose': {
      const perm = attrInts(n, 'perm') ?? od.map((_, i) => ro - 1 - i);
      return [perm[axis]!];
    }
    case 'Reshape': {
      const id = dims(n.inputs[0]!);
      if (!id || od.some((d) => d <= 0)) return undefined;
      const before = numel(od.slice(0, axis));
      for (let k = 0; k < id.length; k++) if (numel(id.slice(0, k)) === before && id[k] === od[axis]) return [k, null];
      return undefined;
    }
    case 'ReduceMean':
    case 'ReduceSum':
    case 'ReduceMax':
    case 'ReduceMin':
    case 'ReduceProd':
    case 'ReduceL2':
    case 'ReduceSumSquare': {
      // Over other axes only; the reduced axes from the attribute or (newer opsets) the second input.
      const id = dims(n.inputs[0]!);
      const given = attrInts(n, 'axes') ?? constInts(n.inputs[1], constants);
      if (!id || !given || given.length === 0) return undefined;
      const reduced = new Set(given.map((a) => (a < 0 ? a + id.length : a)));
      const kept = Array.from({ length: id.length }, (_, i) => i).filter(
        (i) => attrInt(n, 'keepdims', 1) === 1 || !reduced.has(i),
      );
      const k = kept[axis];
      return k === undefined || reduced.has(k) ? undefined : [k, null];
    }
    case 'Squeeze':
    case 'Unsqueeze': {
      const given = attrInts(n, 'axes') ?? constInts(n.inputs[1], constants);
      const id = dims(n.inputs[0]!);
      if (!given || !id) return undefined;
      const squeeze = n.opType === 'Squeeze';
      const rank = squeeze ? id.length : ro;
      const marked = new Set(given.map((a) => (a < 0 ? a + rank : a)));
      if (!squeeze && marked.has(axis)) return undefined;
      // Output axis ↔ input axis, skipping the squeezed (input) or inserted (output) axes.
      const kept = Array.from({ length: rank }, (_, i) => i).filter((i) => !marked.has(i));
      const k = squeeze ? kept[axis] : kept.indexOf(axis);
      return k === undefined || k < 0 ? undefined : [k, null];
    }
    default:
      if (!ELEMENTWISE.has(n.opType)) return undefined;
      return all((x) => broadcast(x));
  }
}
