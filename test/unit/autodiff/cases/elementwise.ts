import { float } from '../../../../engine/onnx/attributes.ts';
import type { RuleCase } from '../harness.ts';

const positive: [number, number] = [0.3, 2];

/** Arithmetic and activation rules, including broadcasting in both directions. */
export const cases: RuleCase[] = [
  { name: 'Add same shape', op: 'Add', inputs: [{ dims: [2, 3] }, { dims: [2, 3] }] },
  { name: 'Add broadcast row and column', op: 'Add', inputs: [{ dims: [3, 1] }, { dims: [1, 4] }] },
  { name: 'Add broadcast lower rank', op: 'Add', inputs: [{ dims: [2, 3, 4] }, { dims: [4] }] },
  { name: 'Add with a weight', op: 'Add', inputs: [{ dims: [2, 3] }, { dims: [3], constant: true }] },
  { name: 'Add opset 11', op: 'Add', opset: 11, inputs: [{ dims: [2, 3] }, { dims: [1, 3] }] },
  { name: 'Sub broadcast', op: 'Sub', inputs: [{ dims: [2, 1, 3] }, { dims: [4, 1] }] },
  { name: 'Mul broadcast', op: 'Mul', inputs: [{ dims: [2, 3] }, { dims: [3] }] },
  { name: 'Mul scalar', op: 'Mul', inputs: [{ dims: [2, 3] }, { dims: [] }] },
  { name: 'Mul opset 12', op: 'Mul', opset: 12, inputs: [{ dims: [2, 3] }, { dims: [2, 1] }] },
  { name: 'Div broadcast', op: 'Div', inputs: [{ dims: [2, 3] }, { dims: [3], range: positive }] },
  {
    name: 'Pow both',
    op: 'Pow',
    inputs: [
      { dims: [2, 3], range: positive },
      { dims: [3], range: [-1.5, 1.5] },
    ],
  },
  { name: 'Pow constant exponent', op: 'Pow', inputs: [{ dims: [2, 3] }, { dims: [], values: [2], constant: true }] },
  { name: 'Sqrt', op: 'Sqrt', inputs: [{ dims: [2, 3], range: positive }] },
  { name: 'Reciprocal', op: 'Reciprocal', inputs: [{ dims: [2, 3], range: positive }] },
  { name: 'Exp', op: 'Exp', inputs: [{ dims: [2, 3] }] },
  { name: 'Log', op: 'Log', inputs: [{ dims: [2, 3], range: positive }] },
  { name: 'Neg', op: 'Neg', inputs: [{ dims: [2, 3] }] },
  { name: 'Abs', op: 'Abs', inputs: [{ dims: [2, 3], avoid: [0] }] },
  { name: 'Relu', op: 'Relu', inputs: [{ dims: [3, 4], avoid: [0] }] },
  { name: 'LeakyRelu', op: 'LeakyRelu', attrs: { alpha: float(0.1) }, inputs: [{ dims: [3, 4], avoid: [0] }] },
  { name: 'Sigmoid', op: 'Sigmoid', inputs: [{ dims: [2, 3] }] },
  { name: 'Tanh', op: 'Tanh', inputs: [{ dims: [2, 3] }] },
  { name: 'Softplus', op: 'Softplus', dtype: 'float32', inputs: [{ dims: [2, 3] }] },
  { name: 'Erf', op: 'Erf', dtype: 'float32', inputs: [{ dims: [2, 3] }] },
  {
    name: 'HardSigmoid',
    op: 'HardSigmoid',
    dtype: 'float32',
    attrs: { alpha: float(0.3), beta: float(0.4) },
    inputs: [{ dims: [3, 4], range: [-3, 3], avoid: [-4 / 3, 2] }],
  },
  {
    name: 'HardSwish',
    op: 'HardSwish',
    opset: 14,
    dtype: 'float32',
    inputs: [{ dims: [3, 4], range: [-4, 4], avoid: [-3, 3] }],
  },
  { name: 'Gelu exact', op: 'Gelu', opset: 20, dtype: 'float32', inputs: [{ dims: [2, 3] }] },
  {
    name: 'Gelu tanh',
    op: 'Gelu',
    opset: 20,
    dtype: 'float32',
    attrs: { approximate: 'tanh' },
    inputs: [{ dims: [2, 3] }],
  },
  {
    name: 'Clip both bounds',
    op: 'Clip',
    inputs: [
      { dims: [3, 4], avoid: [-1, 1] },
      { dims: [], values: [-1], constant: true },
      { dims: [], values: [1], constant: true },
    ],
  },
  {
    name: 'Clip min only (opset 11: float32 kernel only)',
    op: 'Clip',
    opset: 11,
    dtype: 'float32',
    inputs: [
      { dims: [3, 4], avoid: [0.5] },
      { dims: [], values: [0.5], constant: true },
    ],
  },
  {
    name: 'Clip max only',
    op: 'Clip',
    opset: 13,
    inputs: [
      { dims: [3, 4], avoid: [0.5] },
      { dims: [], absent: true },
      { dims: [], values: [0.5], constant: true },
    ],
  },
  { name: 'Max broadcast', op: 'Max', inputs: [{ dims: [2, 3] }, { dims: [3] }] },
  { name: 'Max three inputs', op: 'Max', inputs: [{ dims: [2, 3] }, { dims: [2, 3] }, { dims: [1] }] },
  { name: 'Min broadcast', op: 'Min', inputs: [{ dims: [2, 1] }, { dims: [2, 3] }] },
  {
    name: 'Where broadcast',
    op: 'Where',
    inputs: [{ dims: [2, 3], kind: 'bool', values: [1, 0, 1, 0, 0, 1] }, { dims: [2, 3] }, { dims: [3] }],
  },
  { name: 'Mul opset 21', op: 'Mul', opset: 21, inputs: [{ dims: [2, 3] }, { dims: [2, 1] }] },
  {
    name: 'Pow int64 exponent',
    op: 'Pow',
    opset: 15,
    inputs: [{ dims: [2, 3] }, { dims: [], kind: 'int64', values: [3] }],
  },
  {
    name: 'Where opset 21',
    op: 'Where',
    opset: 21,
    inputs: [{ dims: [3], kind: 'bool', values: [0, 1, 1] }, { dims: [2, 3] }, { dims: [] }],
  },
  { name: 'Sum three inputs broadcast', op: 'Sum', inputs: [{ dims: [2, 3] }, { dims: [3] }, { dims: [2, 1] }] },
  { name: 'Mean two inputs broadcast', op: 'Mean', dtype: 'float32', inputs: [{ dims: [2, 3] }, { dims: [1, 3] }] },
  {
    name: 'PRelu channel slopes',
    op: 'PRelu',
    inputs: [
      { dims: [2, 3, 2], avoid: [0] },
      { dims: [3, 1], range: [0.05, 0.5] },
    ],
  },
  {
    name: 'PRelu constant slope',
    op: 'PRelu',
    inputs: [
      { dims: [2, 3], avoid: [0] },
      { dims: [1], values: [0.2], constant: true },
    ],
  },
  { name: 'Elu', op: 'Elu', dtype: 'float32', attrs: { alpha: float(0.7) }, inputs: [{ dims: [3, 4], avoid: [0] }] },
  { name: 'Selu', op: 'Selu', dtype: 'float32', inputs: [{ dims: [3, 4], avoid: [0] }] },
  { name: 'Sin', op: 'Sin', inputs: [{ dims: [2, 3] }] },
  { name: 'Cos', op: 'Cos', inputs: [{ dims: [2, 3] }] },
  { name: 'Softsign', op: 'Softsign', dtype: 'float32', inputs: [{ dims: [2, 3], avoid: [0] }] },
  { name: 'Mish', op: 'Mish', opset: 18, dtype: 'float32', inputs: [{ dims: [2, 3] }] },
  {
    name: 'Max ties split evenly',
    op: 'Max',
    inputs: [
      { dims: [4], values: [1, 2, -3, 0.5] },
      { dims: [4], values: [1, -2, -3, 0.5] },
    ],
  },
  {
    name: 'Min ties split evenly',
    op: 'Min',
    inputs: [
      { dims: [3], values: [1, 2, 3] },
      { dims: [3], values: [1, 0, 3] },
      { dims: [3], values: [2, 5, 4] },
    ],
  },
];
