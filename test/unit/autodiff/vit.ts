import { DataType, GraphBuilder, float } from '../../../engine/onnx/index.ts';
import type { Model } from '../../../engine/onnx/index.ts';

export interface VitOptions {
  opset: number;
  dtype: 'float32' | 'float64';
  /**
   * `erf`: 0.5 x (1 + erf(x / √2)) as exporters emit it; `tanh`: the tanh approximation written out
   * (every op has a float64 kernel); `op`: the Gelu operator (opset 20+).
   */
  gelu: 'erf' | 'tanh' | 'op';
  /** LayerNorm as ReduceMean/Sub/Pow/Sqrt/Div (exporters before opset 17) instead of LayerNormalization. */
  decomposedLayerNorm: boolean;
}

/** Image, patch and token sizes of the test ViT. */
export const VIT = { channels: 3, size: 8, patch: 4, width: 8, heads: 2, hidden: 16 } as const;

/** Deterministic weights with a 1/√fan-in scale, so activations stay O(1). */
function weights(n: number, fanIn: number, seed: number): number[] {
  let s = seed * 7919 + 1;
  const scale = 1 / Math.sqrt(fanIn);
  return Array.from({ length: n }, () => {
    s = (s * 48271) % 2147483647;
    return (2 * (s / 2147483647) - 1) * 1.7 * scale;
  });
}

/**
 * One-block vision transformer: patch embedding (patches cut out with Reshape/Transpose, then a
 * MatMul), a CLS token (Concat) and position embeddings, pre-norm multi-head self-attention with a
 * fused qkv projection split by Gather (as timm exports it), an MLP with GELU, residual Adds, and
 * a final LayerNorm. Input `pixels` [1, 3, 8, 8]; output `features` [1, 8], the CLS token.
 */
export function vitModel(o: VitOptions): Model {
  const type = o.dtype === 'float32' ? DataType.float32 : DataType.float64;
  const { channels, size, patch, width, heads, hidden } = VIT;
  const grid = size / patch;
  const tokens = grid * grid + 1;
  const headDim = width / heads;
  const patchDim = channels * patch * patch;
  const m: Model = {
    irVersion: 8,
    opsets: { '': o.opset },
    producerName: 'fiberscope-test',
    producerVersion: '',
    metadata: {},
    graph: {
      name: 'vit',
      nodes: [],
      inputs: [{ name: 'pixels', dataType: type, shape: [1, channels, size, size] }],
      outputs: [{ name: 'features', dataType: type, shape: [1, width] }],
      initializers: [],
      valueInfo: [],
    },
  };
  const b = GraphBuilder.forModel(m);
  let seed = 0;
  const param = (dims: number[], fanIn: number, hint: string): string =>
    b.constant(
      type,
      dims,
      weights(
        dims.reduce((p, q) => p * q, 1),
        fanIn,
        ++seed,
      ),
      hint,
    );
  const linear = (x: string, inDim: number, outDim: number, hint: string): string =>
    b.op('Add', [b.op('MatMul', [x, param([inDim, outDim], inDim, `${hint}_w`)]), param([outDim], inDim, `${hint}_b`)]);
  const mean = (x: string): string =>
    o.opset >= 18 ? b.op('ReduceMean', [x, b.int64s([-1])]) : b.op('ReduceMean', [x], { axes: [-1] });
  const layerNorm = (x: string, hint: string): string => {
    const gamma = b.constant(
      type,
      [width],
      weights(width, 1, ++seed).map((w) => 1 + 0.3 * w),
      `${hint}_gamma`,
    );
    const beta = param([width], 4, `${hint}_beta`);
    if (!o.decomposedLayerNorm) return b.op('LayerNormalization', [x, gamma, beta], { epsilon: float(1e-5) });
    const d = b.op('Sub', [x, mean(x)]);
    const std = b.op('Sqrt', [b.op('Add', [mean(b.op('Pow', [d, b.scalar(2, type)])), b.scalar(1e-5, type)])]);
    return b.op('Add', [b.op('Mul', [b.op('Div', [d, std]), gamma]), beta]);
  };
  const gelu = (x: string): string => {
    const half = b.op('Mul', [x, b.scalar(0.5, type)]);
    if (o.gelu === 'op') return b.op('Gelu', [x]);
    if (o.gelu === 'erf') {
      const e = b.op('Erf', [b.op('Div', [x, b.scalar(Math.SQRT2, type)])]);
      return b.op('Mul', [half, b.op('Add', [e, b.scalar(1, type)])]);
    }
    const cubic = b.op('Mul', [b.op('Pow', [x, b.scalar(3, type)]), b.scalar(0.044715, type)]);
    const inner = b.op('Mul', [b.op('Add', [x, cubic]), b.scalar(Math.sqrt(2 / Math.PI), type)]);
    return b.op('Mul', [half, b.op('Add', [b.op('Tanh', [inner]), b.scalar(1, type)])]);
  };
  const pick = (t: string, index: number, axis: number): string =>
    b.op('Gather', [t, b.constant(DataType.int64, [], [index], 'index')], { axis });

  // Patch embedding: [1, C, g·p, g·p] -> [1, g·g, C·p·p] -> MatMul.
  const cut = b.op('Reshape', ['pixels', b.int64s([1, channels, grid, patch, grid, patch])]);
  const patches = b.op('Reshape', [
    b.op('Transpose', [cut], { perm: [0, 2, 4, 1, 3, 5] }),
    b.int64s([1, grid * grid, patchDim]),
  ]);
  const embedded = linear(patches, patchDim, width, 'patch');
  const withCls = b.op('Concat', [param([1, 1, width], 1, 'cls'), embedded], { axis: 1 });
  let z = b.op('Add', [withCls, param([1, tokens, width], 4, 'pos')]);

  // Attention: qkv [1, T, 3·D] -> [3, 1, H, T, Dh]; q·kᵀ scaled, softmax, ·v, heads merged.
  const qkv = b.op(
    'Transpose',
    [b.op('Reshape', [linear(layerNorm(z, 'ln1'), width, 3 * width, 'qkv'), b.int64s([1, tokens, 3, heads, headDim])])],
    {
      perm: [2, 0, 3, 1, 4],
    },
  );
  const q = b.op('Mul', [pick(qkv, 0, 0), b.scalar(1 / Math.sqrt(headDim), type)]);
  const k = pick(qkv, 1, 0);
  const v = pick(qkv, 2, 0);
  const scores = b.op('MatMul', [q, b.op('Transpose', [k], { perm: [0, 1, 3, 2] })]);
  const attention = b.op('Softmax', [scores], { axis: -1 });
  const merged = b.op('Reshape', [
    b.op('Transpose', [b.op('MatMul', [attention, v])], { perm: [0, 2, 1, 3] }),
    b.int64s([1, tokens, width]),
  ]);
  z = b.op('Add', [z, linear(merged, width, width, 'proj')]);

  // MLP.
  const mlp = linear(gelu(linear(layerNorm(z, 'ln2'), width, hidden, 'fc1')), hidden, width, 'fc2');
  z = b.op('Add', [z, mlp]);

  b.op('Identity', [pick(layerNorm(z, 'norm'), 0, 1)], undefined, 'features');
  return m;
}
