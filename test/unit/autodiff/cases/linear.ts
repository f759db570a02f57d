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
  {
    name: 'Einsum attention scores',
    op: 'Einsum',
    attrs: { equation: 'bhid,bhjd->bhij' },
    inputs: [{ dims: [1, 2, 3, 2] }, { dims: [1, 2, 2, 2] }],
  },
  {
    name: 'Einsum leading ellipsis broadcast',
    op: 'Einsum',
    attrs: { equation: '...ij,...jk->...ik' },
    inputs: [{ dims: [2, 2, 3] }, { dims: [1, 3, 2] }],
  },
  {
    name: 'Einsum implicit output',
    op: 'Einsum',
    opset: 12,
    attrs: { equation: 'ij,jk' },
    inputs: [{ dims: [2, 3] }, { dims: [3, 2] }],
  },
  {
    name: 'Einsum index summed in one operand',
    op: 'Einsum',
    attrs: { equation: 'bchw,bkc->bkh' },
    inputs: [{ dims: [1, 2, 3, 2] }, { dims: [1, 2, 2] }],
  },
  {
    name: 'Einsum one operand transpose-sum',
    op: 'Einsum',
    attrs: { equation: 'ijk->ki' },
    inputs: [{ dims: [2, 3, 2] }],
  },
  {
    name: 'Einsum three operands with a weight',
    op: 'Einsum',
    attrs: { equation: 'ab,bc,cd->ad' },
    inputs: [{ dims: [2, 3] }, { dims: [3, 2], constant: true }, { dims: [2, 2] }],
  },
  { name: 'MatMul opset 21', op: 'MatMul', opset: 21, inputs: [{ dims: [2, 3] }, { dims: [3, 2] }] },
  {
    name: 'Gemm opset 21',
    op: 'Gemm',
    opset: 21,
    attrs: { transB: 1 },
    inputs: [{ dims: [2, 3] }, { dims: [2, 3] }, { dims: [2] }],
  },
];
