import { float } from '../../../../engine/onnx/attributes.ts';
import type { RuleCase } from '../harness.ts';

/** Matrix products: batched and broadcasting MatMul, every Gemm transpose combination. */
export const cases: RuleCase[] = [
  { name: 'MatMul 2-D', op: 'MatMul', inputs: [{ dims: [2, 3] }, { dims: [3, 4] }] },
  { name: 'MatMul batched', op: 'MatMul', inputs: [{ dims: [2, 2, 3] }, { dims: [2, 3, 2] }] },
  { name: 'MatMul broadcast batch', op: 'MatMul', inputs: [{ dims: [2, 1, 2, 3] }, { dims: [3, 3, 2] }] },
  { name: 'MatMul weight', op: 'MatMul', inputs: [{ dims: [2, 2, 3] }, { dims: [3, 4], constant: true }] },
  { name: 'MatMul vector left', op: 'MatMul', inputs: [{ dims: [3] }, { dims: [2, 3, 4] }] },
  { name: 'MatMul vector right', op: 'MatMul', inputs: [{ dims: [2, 2, 3] }, { dims: [3] }] },
  { name: 'MatMul vectors', op: 'MatMul', inputs: [{ dims: [3] }, { dims: [3] }] },
  { name: 'MatMul opset 11', op: 'MatMul', opset: 11, inputs: [{ dims: [2, 3] }, { dims: [2, 3, 2] }] },
  { name: 'Gemm plain with bias row', op: 'Gemm', inputs: [{ dims: [2, 3] }, { dims: [3, 4] }, { dims: [4] }] },
  {
    name: 'Gemm transA alpha beta',
    op: 'Gemm',
    attrs: { transA: 1, alpha: float(0.7), beta: float(1.3) },
    inputs: [{ dims: [3, 2] }, { dims: [3, 4] }, { dims: [2, 1] }],
  },
  {
    name: 'Gemm transB',
    op: 'Gemm',
    attrs: { transB: 1 },
    inputs: [{ dims: [2, 3] }, { dims: [4, 3] }, { dims: [2, 4] }],
  },
  {
    name: 'Gemm transA transB no bias',
    op: 'Gemm',
    attrs: { transA: 1, transB: 1, alpha: float(2) },
    inputs: [{ dims: [3, 2] }, { dims: [4, 3] }],
  },
  {
    name: 'Gemm opset 11 scalar bias',
    op: 'Gemm',
    opset: 11,
    inputs: [{ dims: [2, 3] }, { dims: [3, 4] }, { dims: [] }],
  },
];
