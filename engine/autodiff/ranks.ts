import { attrInt, attrInts, attrString } from '../onnx/attributes.ts';
import type { Model, Node, Tensor } from '../onnx/ir.ts';
import { tensorValues } from '../onnx/ir.ts';

/** Ops whose output 0 has the rank of input 0. */
const SAME_RANK = new Set([
  'Abs',
  'AveragePool',
  'BatchNormalization',
  'Cast',
  'Ceil',
  'Clip',
  'Concat',
  'Conv',
  'ConvTranspose',
  'Cos',
  'CumSum',
  'Dropout',
  'Elu',
  'Erf',
  'Exp',
  'Floor',
  'Gelu',
  'GroupNormalization',
  'HardSigmoid',
  'HardSwish',
  'Identity',
  'InstanceNormalization',
  'LayerNormalization',
  'LeakyRelu',
  'Log',
  'LogSoftmax',
  'LpNormalization',
  'MaxPool',
  'Neg',
  'Not',
  'Pad',
  'Reciprocal',
  'Relu',
  'Resize',
  'Round',
  'Selu',
  'Sigmoid',
  'Sign',
  'Sin',
  'Slice',
  'Softmax',
  'Softplus',
  'Softsign',
  'Split',
  'Sqrt',
  'Tanh',
  'Tile',
  'Transpose',
  'Upsample',
]);
/** Numpy-broadcasting ops: the largest input rank. */
const BROADCAST = new Set([
  'Add',
  'And',
  'Div',
  'Equal',
  'Greater',
  'GreaterOrEqual',
  'Less',
  'LessOrEqual',
  'Max',
  'Mean',
  'Min',
  'Mod',
  'Mul',
  'Or',
  'Pow',
  'PRelu',
  'Sub',
  'Sum',
  'Where',
  'Xor',
]);

/**
 * Ranks of tensors that static shapes do not cover, propagated from declared ranks and constants
 * through common ops. Rules need ranks more often than dims (transposes, axis normalisation).
 */
export function inferRanks(
  model: Model,
  known: ReadonlyMap<string, number>,
  constants: ReadonlyMap<string, Tensor>,
): Map<string, number> {
  const ranks = new Map(known);
  const rank = (name: string | undefined): number | undefined => (name ? ranks.get(name) : undefined);
  const constLength = (name: string | undefined): number | undefined => {
    const t = name ? constants.get(name) : undefined;
    return t ? tensorValues(t).length : undefined;
  };
  const opset = model.opsets[''] ?? 0;
  for (const n of model.graph.nodes) {
    const r = outputRank(n, rank, constLength, opset);
    const out = n.outputs[0];
    if (r !== undefined && out && !ranks.has(out)) ranks.set(out, r);
    if (r !== undefined && n.opType === 'Split') for (const o of n.outputs) if (o && !ranks.has(o)) ranks.set(o, r);
  }
  return ranks;
}

function outputRank(
  n: Node,
  rank: (name: string | undefined) => number | undefined,
  constLength: (name: string | undefined) => number | undefined,
  opset: number,
): number | undefined {
  const r0 = rank(n.inputs[0]);
  if (n.domain !== '' && n.domain !== 'ai.onnx') return undefined;
  if (SAME_RANK.has(n.opType)) return r0;
  if (BROADCAST.has(n.opType)) {
    const rs = n.inputs.filter(Boolean).map((i) => rank(i));
    return rs.every((r) => r !== undefined) ? Math.max(...(rs as number[])) : undefined;
  }
  switch (n.opType) {
    case 'MatMul': {
      const r1 = rank(n.inputs[1]);
      if (r0 === undefined || r1 === undefined) return undefined;
      return Math.max(r0, r1) - (r0 === 1 ? 1 : 0) - (r1 === 1 ? 1 : 0);
    }
    case 'Gemm':
    case 'Flatten':
      return 2;
    case 'Shape':
    case 'Size':
      return n.opType === 'Shape' ? 1 : 0;
    case 'Reshape':
    case 'ConstantOfShape':
      return constLength(n.inputs[n.opType === 'Reshape' ? 1 : 0]);
    case 'Expand': {
      const len = constLength(n.inputs[1]);
      return len !== undefined && r0 !== undefined ? Math.max(len, r0) : undefined;
    }
    case 'Gather': {
      const ri = rank(n.inputs[1]);
      return r0 !== undefined && ri !== undefined ? r0 + ri - 1 : undefined;
    }
    case 'Unsqueeze':
    case 'Squeeze': {
      const axes = opset >= 13 ? constLength(n.inputs[1]) : attrInts(n, 'axes')?.length;
      if (r0 === undefined || axes === undefined) return undefined;
      return n.opType === 'Unsqueeze' ? r0 + axes : r0 - axes;
    }
    case 'ReduceMean':
    case 'ReduceSum':
    case 'ReduceMax':
    case 'ReduceMin':
    case 'ReduceL2':
    case 'ReduceSumSquare':
    case 'ReduceProd': {
      if (r0 === undefined) return undefined;
      if (attrInt(n, 'keepdims', 1) === 1) return r0;
      const axesAsInput = n.opType === 'ReduceSum' ? opset >= 13 : opset >= 18;
      const axes = axesAsInput ? constLength(n.inputs[1]) : attrInts(n, 'axes')?.length;
      return axes === undefined ? undefined : r0 - axes;
    }
    case 'Einsum': {
      const [lhs, rhs] = (attrString(n, 'equation') ?? '').replace(/\s+/g, '').split('->');
      if (rhs === undefined || lhs === undefined) return undefined;
      const letters = (t: string): number => t.replace('...', '').length;
      if (!rhs.includes('...')) return letters(rhs);
      const ell = lhs.split(',').map((t, i) => (t.includes('...') ? (rank(n.inputs[i]) ?? NaN) - letters(t) : 0));
      const widest = Math.max(...ell);
      return Number.isNaN(widest) ? undefined : widest + letters(rhs);
    }
    case 'GlobalAveragePool':
    case 'GlobalMaxPool':
      return r0;
    default:
      return undefined;
  }
}
