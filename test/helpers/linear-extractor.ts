/** A linear extractor φ(x) = A·vec(x) as an ONNX model, for composition tests and the known-answer check. */
import { DataType, GraphBuilder } from '../../engine/onnx/index.ts';
import type { Model } from '../../engine/onnx/index.ts';

export function linearExtractorModel(A: Float64Array, featureDim: number, shape: readonly number[], opset = 17): Model {
  const D = shape.reduce((a, b) => a * b, 1);
  const m: Model = {
    irVersion: 8,
    opsets: { '': opset },
    producerName: 'test',
    producerVersion: '',
    metadata: {},
    graph: {
      name: 'linear',
      nodes: [],
      inputs: [{ name: 'pixels', dataType: DataType.float32, shape: ['N', ...shape] }],
      outputs: [{ name: 'features', dataType: DataType.float32, shape: ['N', featureDim] }],
      initializers: [],
      valueInfo: [],
    },
  };
  const b = GraphBuilder.forModel(m);
  const At = new Float64Array(D * featureDim);
  for (let f = 0; f < featureDim; f++) for (let j = 0; j < D; j++) At[j * featureDim + f] = A[f * D + j]!;
  const flat = b.op('Reshape', ['pixels', b.int64s([-1, D])]);
  b.op('MatMul', [flat, b.constant(DataType.float32, [D, featureDim], At, 'A_t')], undefined, 'features');
  return m;
}
