import { onnx } from './proto.ts';
import { DataType, cloneModel, makeTensor, tensorValues } from './ir.ts';
import type { Attribute, Model, Tensor, ValueInfo } from './ir.ts';
import { tensorFromProto, tensorToProto } from './tensor-proto.ts';

function widen(t: Tensor): Tensor {
  return t.dataType === DataType.float16 ? makeTensor(t.name, DataType.float32, t.dims, tensorValues(t)) : t;
}

function widenInfo(v: ValueInfo): ValueInfo {
  return v.dataType === DataType.float16 ? { ...v, dataType: DataType.float32 } : v;
}

/** Type-valued attributes (Cast 'to', EyeLike/Random* 'dtype') and tensor attributes (Constant values). */
function widenAttribute(a: Attribute): Attribute {
  const T = onnx.AttributeProto.AttributeType;
  if ((a.name === 'to' || a.name === 'dtype') && a.type === T.INT && Number(a.i) === DataType.float16) {
    return { ...a, i: DataType.float32 };
  }
  if (a.type === T.TENSOR && a.t && a.t.dataType === DataType.float16) {
    return { ...a, t: tensorToProto(widen(tensorFromProto(a.t))) };
  }
  return a;
}

/**
 * A float32 copy of a float16 model: weights, declared types, casts and constants widened, so
 * that exports meant for GPUs run on CPU execution providers (which lack most float16 kernels).
 * Values are exact (every float16 is a float32); results differ only by the wider arithmetic.
 * Control-flow subgraphs are left as they are.
 */
export function widenFloat16(model: Model): Model {
  const m = cloneModel(model);
  const g = m.graph;
  g.initializers = g.initializers.map(widen);
  g.inputs = g.inputs.map(widenInfo);
  g.outputs = g.outputs.map(widenInfo);
  g.valueInfo = g.valueInfo.map(widenInfo);
  for (const n of g.nodes) n.attributes = n.attributes.map(widenAttribute);
  return m;
}
