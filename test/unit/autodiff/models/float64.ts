import { interpolationMatrix } from '../../../../engine/autodiff/interpolation.ts';
import type { AxisResize } from '../../../../engine/autodiff/interpolation.ts';
import {
  DataType,
  GraphBuilder,
  attrFloat,
  attrInt,
  attrInts,
  attrString,
  attrTensor,
  cloneModel,
  makeTensor,
  tensorValues,
} from '../../../../engine/onnx/index.ts';
import type { Model, Node, Tensor } from '../../../../engine/onnx/index.ts';
import type { TensorShape } from '../../../../engine/runtime/index.ts';

/**
 * A float64 twin of a float32 CNN for reference finite differences: onnxruntime's CPU kernels
 * for Conv, ConvTranspose, AveragePool, HardSigmoid, Resize and (opset 11) Clip are float32-only, so those
 * are rewritten with ops that have float64 kernels (Pad, Slice, MatMul, Sum, Max, Min,
 * ReduceMean); weights and float constants become float64. Central differences of the twin in
 * float64 are exact to about 1e-9, far below the float32 gradient graph's own rounding.
 * Shapes must be static (resolved for the input size used).
 */
export function float64Twin(model: Model, shapes: ReadonlyMap<string, TensorShape>): Model {
  const out = cloneModel(model);
  const g = out.graph;
  const source = g.nodes;
  g.nodes = [];
  g.valueInfo = [];
  g.initializers = g.initializers.map(widen);
  for (const v of [...g.inputs, ...g.outputs]) if (v.dataType === DataType.float32) v.dataType = DataType.float64;
  const b = GraphBuilder.forModel(out);
  const dims = (name: string): number[] => {
    const s = shapes.get(name);
    if (!s) throw new Error(`no static shape for '${name}'`);
    return s.dims;
  };
  const consts = new Map<string, number[]>();
  for (const t of model.graph.initializers) if (t.dims.length <= 1) consts.set(t.name, tensorValues(t));
  const f64 = (d: number[], values: ArrayLike<number>, hint: string): string =>
    b.constant(DataType.float64, d, values, hint);
  const scalar = (v: number): string => b.scalar(v, DataType.float64);

  for (const n of source) {
    const [x, y] = [n.inputs[0] ?? '', n.outputs[0] ?? ''];
    const emit = (op: string, inputs: string[], attrs?: Parameters<GraphBuilder['op']>[2]): string =>
      b.op(op, inputs, attrs, y);
    switch (n.opType) {
      case 'Constant': {
        const t = attrTensor(n, 'value');
        if (!t) throw new Error(`Constant '${y}' without a tensor value`);
        consts.set(y, tensorValues(t));
        b.op('Constant', [], { value: widen(t) }, y);
        break;
      }
      case 'Conv':
        conv(n);
        break;
      case 'ConvTranspose':
        convTranspose(n);
        break;
      case 'AveragePool':
        averagePool(n);
        break;
      case 'HardSigmoid': {
        const lin = b.op('Add', [
          b.op('Mul', [x, scalar(attrFloat(n, 'alpha', 0.2))]),
          scalar(attrFloat(n, 'beta', 0.5)),
        ]);
        emit('Max', [b.op('Min', [lin, scalar(1)]), scalar(0)]);
        break;
      }
      case 'Clip': {
        let t = x;
        const [lo, hi] = [n.inputs[1], n.inputs[2]];
        if (hi) t = b.op('Min', [t, scalar(consts.get(hi)![0]!)]);
        if (lo) t = b.op('Max', [t, scalar(consts.get(lo)![0]!)]);
        emit('Identity', [t]);
        break;
      }
      case 'Sigmoid':
        // Spelled out: onnxruntime would fuse x·sigmoid(x) into a float32-only QuickGelu.
        emit('Reciprocal', [b.op('Add', [b.op('Exp', [b.op('Neg', [x])]), scalar(1)])]);
        break;
      case 'GlobalAveragePool':
        emit('ReduceMean', [x], {
          axes: dims(x)
            .slice(2)
            .map((_, i) => i + 2),
          keepdims: 1,
        });
        break;
      case 'Resize':
        resize(n);
        break;
      default:
        g.nodes.push(n);
    }
  }
  return out;

  function widen(t: Tensor): Tensor {
    return t.dataType === DataType.float32 ? makeTensor(t.name, DataType.float64, t.dims, tensorValues(t)) : t;
  }

  function weightValues(name: string): number[] {
    const known = consts.get(name);
    if (known) return known;
    const t = model.graph.initializers.find((i) => i.name === name);
    if (!t) throw new Error(`weights '${name}' are not constant`);
    return tensorValues(t);
  }

  /** Conv as a sum over kernel offsets of strided slices of the padded input, each contracted by MatMul. */
  function conv(n: Node): void {
    const [x, w, bias] = n.inputs as [string, string, string?];
    if (attrString(n, 'auto_pad', 'NOTSET') !== 'NOTSET') throw new Error('auto_pad is not lowered');
    const wDims = dims(w) as [number, number, number, number];
    lowerConv(n, x, weightValues(w), wDims, attrInt(n, 'group', 1), bias ? weightValues(bias) : undefined);
  }

  /** AveragePool without padding as a depthwise Conv with equal weights. */
  function averagePool(n: Node): void {
    const x = n.inputs[0]!;
    const [kh, kw] = attrInts(n, 'kernel_shape') as [number, number];
    const pads = attrInts(n, 'pads') ?? [0, 0, 0, 0];
    if (pads.some((p) => p !== 0) || attrInt(n, 'ceil_mode', 0) !== 0)
      throw new Error('only unpadded AveragePool is lowered');
    const c = dims(x)[1]!;
    lowerConv(n, x, new Array<number>(c * kh * kw).fill(1 / (kh * kw)), [c, 1, kh, kw], c);
  }

  function lowerConv(
    n: Node,
    x: string,
    values: readonly number[],
    [M, Cg, kh, kw]: [number, number, number, number],
    group: number,
    bias?: readonly number[],
  ): void {
    const [N] = dims(x) as [number];
    const [, , Ho, Wo] = dims(n.outputs[0]!) as [number, number, number, number];
    const [sh, sw] = attrInts(n, 'strides') ?? [1, 1];
    const [dh, dw] = attrInts(n, 'dilations') ?? [1, 1];
    const [pt, pl, pb, pr] = attrInts(n, 'pads') ?? [0, 0, 0, 0];
    const padded = b.op('Pad', [x, b.int64s([0, 0, pt!, pl!, 0, 0, pb!, pr!])]);
    const mg = M / group;
    const terms: string[] = [];
    for (let i = 0; i < kh; i++)
      for (let j = 0; j < kw; j++) {
        const slice = b.op('Slice', [
          padded,
          b.int64s([i * dh!, j * dw!]),
          b.int64s([i * dh! + (Ho - 1) * sh! + 1, j * dw! + (Wo - 1) * sw! + 1]),
          b.int64s([2, 3]),
          b.int64s([sh!, sw!]),
        ]);
        const grouped = b.op('Reshape', [slice, b.int64s([N, group, Cg, Ho * Wo])]);
        const tap = new Float64Array(M * Cg);
        for (let m = 0; m < M; m++)
          for (let c = 0; c < Cg; c++) tap[m * Cg + c] = values[((m * Cg + c) * kh + i) * kw + j]!;
        terms.push(b.op('MatMul', [f64([group, mg, Cg], tap, 'tap'), grouped]));
      }
    let sum = b.op('Reshape', [terms.length > 1 ? b.op('Sum', terms) : terms[0]!, b.int64s([N, M, Ho, Wo])]);
    if (bias) sum = b.op('Add', [sum, f64([1, M, 1, 1], bias, 'bias')]);
    b.op('Identity', [sum], undefined, n.outputs[0]!);
  }

  /** ConvTranspose whose kernel equals its stride (no overlap, no pads): one MatMul and a depth-to-space reshuffle. */
  function convTranspose(n: Node): void {
    const [x, w, bias] = n.inputs as [string, string, string?];
    const [N, C, H, W] = dims(x) as [number, number, number, number];
    const [, O, kh, kw] = dims(w) as [number, number, number, number];
    const strides = attrInts(n, 'strides') ?? [1, 1];
    const pads = attrInts(n, 'pads') ?? [0, 0, 0, 0];
    if (attrInt(n, 'group', 1) !== 1 || strides[0] !== kh || strides[1] !== kw || pads.some((p) => p !== 0))
      throw new Error('only ConvTranspose with kernel = stride, no pads, one group is lowered');
    const values = weightValues(w);
    const wt = new Float64Array(O * kh * kw * C);
    for (let c = 0; c < C; c++) for (let r = 0; r < O * kh * kw; r++) wt[r * C + c] = values[c * O * kh * kw + r]!;
    const flat = b.op('MatMul', [f64([O * kh * kw, C], wt, 'convt'), b.op('Reshape', [x, b.int64s([N, C, H * W])])]);
    const blocks = b.op('Reshape', [flat, b.int64s([N, O, kh, kw, H, W])]);
    const placed = b.op('Transpose', [blocks], { perm: [0, 1, 4, 2, 5, 3] });
    let y = b.op('Reshape', [placed, b.int64s([N, O, H * kh, W * kw])]);
    if (bias) y = b.op('Add', [y, f64([1, O, 1, 1], weightValues(bias), 'bias')]);
    b.op('Identity', [y], undefined, n.outputs[0]!);
  }

  /** Resize of the last two axes as MatMuls with the interpolation matrices. */
  function resize(n: Node): void {
    const x = n.inputs[0]!;
    const [inDims, outDims] = [dims(x), dims(n.outputs[0]!)];
    const rank = inDims.length;
    if (inDims.slice(0, rank - 2).some((d, i) => d !== outDims[i])) throw new Error('only spatial Resize is lowered');
    const scales = n.inputs[2] ? consts.get(n.inputs[2]) : undefined;
    let t = x;
    for (const axis of [rank - 1, rank - 2]) {
      const r: AxisResize = {
        mode: attrString(n, 'mode', 'nearest') as AxisResize['mode'],
        coordinates: attrString(n, 'coordinate_transformation_mode', 'half_pixel'),
        nearest: attrString(n, 'nearest_mode', 'round_prefer_floor'),
        cubicA: attrFloat(n, 'cubic_coeff_a', -0.75),
        excludeOutside: attrInt(n, 'exclude_outside', 0) === 1,
        scale: scales && scales.length ? scales[axis]! : outDims[axis]! / inDims[axis]!,
        inSize: inDims[axis]!,
        outSize: outDims[axis]!,
      };
      const a = interpolationMatrix(r, (m) => {
        throw new Error(m);
      });
      if (axis === rank - 1) {
        const at = new Float64Array(a.length);
        for (let o = 0; o < r.outSize; o++)
          for (let i = 0; i < r.inSize; i++) at[i * r.outSize + o] = a[o * r.inSize + i]!;
        t = b.op('MatMul', [t, f64([r.inSize, r.outSize], at, 'resize')]);
      } else {
        t = b.op('MatMul', [f64([r.outSize, r.inSize], a, 'resize'), t]);
      }
    }
    b.op('Identity', [t], undefined, n.outputs[0]!);
  }
}
