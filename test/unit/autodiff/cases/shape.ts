import type { RuleCase } from '../harness.ts';

/** Layout rules: data moves, no arithmetic; shape, axis and index inputs are constants. */
export const cases: RuleCase[] = [
  { name: 'Reshape', op: 'Reshape', inputs: [{ dims: [2, 3, 2] }, { dims: [2], kind: 'int64', values: [3, -1] }] },
  { name: 'Flatten axis 2', op: 'Flatten', attrs: { axis: 2 }, inputs: [{ dims: [2, 3, 2, 2] }] },
  { name: 'Transpose perm', op: 'Transpose', attrs: { perm: [1, 2, 0] }, inputs: [{ dims: [2, 3, 4] }] },
  { name: 'Transpose default', op: 'Transpose', inputs: [{ dims: [2, 3, 4] }] },
  { name: 'Squeeze opset 11 attribute', op: 'Squeeze', opset: 11, attrs: { axes: [1] }, inputs: [{ dims: [2, 1, 3] }] },
  { name: 'Squeeze opset 13 input', op: 'Squeeze', opset: 13, inputs: [{ dims: [2, 1, 3, 1] }, { dims: [2], kind: 'int64', values: [1, -1] }] },
  { name: 'Unsqueeze opset 11 attribute', op: 'Unsqueeze', opset: 11, attrs: { axes: [0, 3] }, inputs: [{ dims: [2, 3] }] },
  { name: 'Unsqueeze opset 13 input', op: 'Unsqueeze', opset: 13, inputs: [{ dims: [2, 3] }, { dims: [1], kind: 'int64', values: [1] }] },
  { name: 'Concat axis 1', op: 'Concat', attrs: { axis: 1 }, inputs: [{ dims: [2, 1] }, { dims: [2, 3] }, { dims: [2, 2], constant: true }] },
  { name: 'Concat negative axis opset 11', op: 'Concat', opset: 11, attrs: { axis: -1 }, inputs: [{ dims: [2, 2] }, { dims: [2, 3] }] },
  { name: 'Split opset 11 attribute, first output', op: 'Split', opset: 11, outputs: 2, attrs: { axis: 1, split: [1, 3] }, inputs: [{ dims: [2, 4] }] },
  { name: 'Split opset 13 input, second output', op: 'Split', opset: 13, outputs: 2, of: 1, attrs: { axis: 0 }, inputs: [{ dims: [3, 2] }, { dims: [2], kind: 'int64', values: [1, 2] }] },
  { name: 'Split equal parts', op: 'Split', outputs: 3, of: 2, attrs: { axis: -1 }, inputs: [{ dims: [2, 6] }] },
  {
    name: 'Slice step 1',
    op: 'Slice',
    inputs: [{ dims: [3, 4] }, { dims: [2], kind: 'int64', values: [1, 0] }, { dims: [2], kind: 'int64', values: [3, 3] }],
  },
  {
    name: 'Slice axes and negative step',
    op: 'Slice',
    inputs: [
      { dims: [3, 5] },
      { dims: [1], kind: 'int64', values: [-1] },
      { dims: [1], kind: 'int64', values: [0] },
      { dims: [1], kind: 'int64', values: [1] },
      { dims: [1], kind: 'int64', values: [-2] },
    ],
  },
  { name: 'Gather axis 0 with repeats', op: 'Gather', inputs: [{ dims: [4, 3] }, { dims: [3], kind: 'int64', values: [2, 0, 2] }] },
  { name: 'Gather axis 1 scalar index', op: 'Gather', attrs: { axis: 1 }, inputs: [{ dims: [2, 3, 2] }, { dims: [], kind: 'int64', values: [-1] }] },
  { name: 'Gather 2-D indices', op: 'Gather', attrs: { axis: 1 }, inputs: [{ dims: [2, 4] }, { dims: [2, 2], kind: 'int64', values: [0, 3, 3, 1] }] },
  { name: 'Expand', op: 'Expand', inputs: [{ dims: [3, 1] }, { dims: [3], kind: 'int64', values: [2, 3, 4] }] },
  { name: 'Tile', op: 'Tile', inputs: [{ dims: [2, 3] }, { dims: [2], kind: 'int64', values: [2, 3] }] },
  { name: 'Cast float64 to float32', op: 'Cast', attrs: { to: 1 }, step: 1e-2, tol: 1e-5, inputs: [{ dims: [2, 3] }] },
  { name: 'Identity', op: 'Identity', inputs: [{ dims: [2, 3] }] },
  { name: 'Dropout inference', op: 'Dropout', opset: 13, dtype: 'float32', inputs: [{ dims: [2, 3] }] },
];
