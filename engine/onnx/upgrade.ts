import { InputError } from '../errors.ts';
import { attrFloat, attrInts, attrString } from './attributes.ts';
import { GraphBuilder } from './builder.ts';
import { DataType, cloneModel, defaultOpset } from './ir.ts';
import type { Model, Node } from './ir.ts';

/**
 * Default-domain ops whose inputs, attributes and semantics did not change between opsets 7 and
 * 11 (attributes added later default to the old behaviour): a node of these is valid as it is.
 */
const UNCHANGED = new Set([
  'Abs',
  'Add',
  'And',
  'ArgMax',
  'ArgMin',
  'AveragePool',
  'BatchNormalization',
  'Cast',
  'Ceil',
  'Concat',
  'Constant',
  'ConstantOfShape',
  'Conv',
  'ConvTranspose',
  'Div',
  'Dropout',
  'Elu',
  'Equal',
  'Erf',
  'Exp',
  'Expand',
  'Flatten',
  'Floor',
  'Gather',
  'Gemm',
  'GlobalAveragePool',
  'GlobalMaxPool',
  'Greater',
  'HardSigmoid',
  'Identity',
  'InstanceNormalization',
  'LeakyRelu',
  'Less',
  'Log',
  'LogSoftmax',
  'LRN',
  'MatMul',
  'Max',
  'MaxPool',
  'Mean',
  'Min',
  'Mul',
  'Neg',
  'NonZero',
  'Not',
  'Or',
  'Pow',
  'PRelu',
  'Reciprocal',
  'ReduceL1',
  'ReduceL2',
  'ReduceLogSumExp',
  'ReduceMax',
  'ReduceMean',
  'ReduceMin',
  'ReduceProd',
  'ReduceSum',
  'ReduceSumSquare',
  'Relu',
  'Reshape',
  'Selu',
  'Shape',
  'Sigmoid',
  'Sign',
  'Size',
  'Softmax',
  'Softplus',
  'Softsign',
  'Split',
  'Sqrt',
  'Squeeze',
  'Sub',
  'Sum',
  'Tanh',
  'Tile',
  'Transpose',
  'Unsqueeze',
  'Where',
  'Xor',
]);

const FLOAT_MAX = 3.4028234663852886e38;

/**
 * Rewrites a model exported at default-domain opset 7–10 as an opset-11 model, so that it can be
 * differentiated (the gradient driver covers opsets 11–21). Nodes of unchanged ops are kept;
 * Clip (min/max attributes), Slice (starts/ends/axes attributes), Pad (pads attribute) and
 * Upsample (deprecated at 10) become their opset-11 forms with constant inputs. Any other op
 * whose signature changed is refused, naming it.
 */
export function upgradeOpset(model: Model): Model {
  const from = defaultOpset(model);
  if (from >= 11) return model;
  if (from < 7)
    throw new InputError('model', `opset ${from} is older than 7; re-export the model at opset 11 or later`);
  const out = cloneModel(model);
  const g = out.graph;
  const source = g.nodes;
  g.nodes = [];
  const domain = '' in out.opsets ? '' : 'ai.onnx';
  out.opsets[domain] = 11;
  out.irVersion = Math.max(out.irVersion, 6);
  const b = new GraphBuilder(g, 11);
  const floatType = (name: string): number =>
    [...g.inputs, ...g.valueInfo, ...g.outputs, ...g.initializers].find((v) => v.name === name)?.dataType ||
    DataType.float32;

  for (const n of source) {
    if (n.domain !== '' && n.domain !== 'ai.onnx') {
      g.nodes.push(n);
      continue;
    }
    const keep = (inputs: string[], drop: string[]): void => {
      g.nodes.push({ ...n, inputs, attributes: n.attributes.filter((a) => !drop.includes(a.name ?? '')) });
    };
    const x = n.inputs[0] ?? '';
    switch (n.opType) {
      case 'Clip': {
        const type = floatType(x);
        const min = b.scalar(attrFloat(n, 'min', -FLOAT_MAX), type);
        const max = b.scalar(attrFloat(n, 'max', FLOAT_MAX), type);
        keep([x, min, max], ['min', 'max']);
        break;
      }
      case 'Slice': {
        if (from >= 10) {
          g.nodes.push(n);
          break;
        }
        const starts = attrInts(n, 'starts') ?? [];
        const ends = attrInts(n, 'ends') ?? [];
        const axes = attrInts(n, 'axes') ?? starts.map((_, i) => i);
        keep(
          [x, b.int64s(starts, 'starts'), b.int64s(ends, 'ends'), b.int64s(axes, 'axes')],
          ['starts', 'ends', 'axes'],
        );
        break;
      }
      case 'Pad': {
        const pads = attrInts(n, 'pads') ?? [];
        const value = b.scalar(attrFloat(n, 'value', 0), floatType(x));
        keep([x, b.int64s(pads, 'pads'), value], ['pads', 'value']);
        break;
      }
      case 'Upsample':
        upsample(n, b, from);
        break;
      default:
        if (!UNCHANGED.has(n.opType)) {
          throw new InputError(
            n.name ? `node '${n.name}'` : `a node producing '${n.outputs[0] ?? '?'}'`,
            `op ${n.opType} changed between opset ${from} and 11 and is not upgraded automatically; re-export the model at opset 11 or later`,
          );
        }
        g.nodes.push(n);
    }
  }
  return out;
}

/** Upsample (scales as attribute before 9, as input from 9) as Resize-11 with asymmetric coordinates and floor rounding. */
function upsample(n: Node, b: GraphBuilder, from: number): void {
  const mode = attrString(n, 'mode', 'nearest');
  const given = n.attributes.find((a) => a.name === 'scales')?.floats ?? [];
  const scales = from >= 9 ? (n.inputs[1] ?? '') : b.constant(DataType.float32, [given.length], given, 'scales');
  b.op(
    'Resize',
    [n.inputs[0] ?? '', b.constant(DataType.float32, [0], [], 'roi'), scales],
    {
      mode: mode === 'bilinear' ? 'linear' : mode,
      coordinate_transformation_mode: 'asymmetric',
      ...(mode === 'nearest' ? { nearest_mode: 'floor' } : {}),
    },
    n.outputs[0],
  );
}
