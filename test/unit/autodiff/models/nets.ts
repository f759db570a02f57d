import { DataType, GraphBuilder, float } from '../../../../engine/onnx/index.ts';
import type { Model } from '../../../../engine/onnx/index.ts';

/**
 * Builders of small and full-size vision networks in the shapes real exports have (ResNet
 * stages, UNet and VAE decoder blocks, extractor preprocessing), with seeded random float32
 * weights scaled so that activations stay of order one. Shared by the whole-model gradient
 * checks and the gradient/forward benchmark.
 */
export class Net {
  readonly model: Model;
  readonly b: GraphBuilder;
  private seed: number;

  constructor(opset: number, input: { name: string; dims: number[] }, seed = 1) {
    this.model = {
      irVersion: 8,
      opsets: { '': opset },
      producerName: 'fiberscope-test',
      producerVersion: '',
      metadata: {},
      graph: {
        name: 'net',
        nodes: [],
        inputs: [{ name: input.name, dataType: DataType.float32, shape: input.dims }],
        outputs: [],
        initializers: [],
        valueInfo: [],
      },
    };
    this.b = GraphBuilder.forModel(this.model);
    this.seed = seed;
  }

  /** Uniform in [-1, 1), seeded (xorshift). */
  random(): number {
    let s = this.seed;
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    this.seed = s;
    return ((s >>> 0) / 4294967296) * 2 - 1;
  }

  /** A float32 initializer of uniform values in [mean - spread, mean + spread). */
  weight(dims: number[], spread: number, hint: string, mean = 0): string {
    const values = new Float32Array(dims.reduce((a, d) => a * d, 1));
    for (let i = 0; i < values.length; i++) values[i] = mean + spread * this.random();
    return this.b.initializer({
      name: this.b.fresh(hint),
      dataType: DataType.float32,
      dims,
      raw: new Uint8Array(values.buffer),
    });
  }

  output(name: string): Model {
    this.model.graph.outputs.push({ name, dataType: DataType.float32, shape: null });
    return this.model;
  }

  conv(
    x: string,
    cin: number,
    cout: number,
    k: number,
    o: { stride?: number; pad?: number; group?: number; bias?: boolean } = {},
  ): string {
    const group = o.group ?? 1;
    // Uniform bound √(3/fan_in) gives unit output variance for unit inputs.
    const w = this.weight([cout, cin / group, k, k], Math.sqrt(3 / ((cin / group) * k * k)), 'conv_w');
    const inputs = [x, w];
    if (o.bias !== false) inputs.push(this.weight([cout], 0.1, 'conv_b'));
    const pad = o.pad ?? Math.floor(k / 2);
    const stride = o.stride ?? 1;
    return this.b.op('Conv', inputs, {
      kernel_shape: [k, k],
      strides: [stride, stride],
      pads: [pad, pad, pad, pad],
      group,
    });
  }

  batchNorm(x: string, c: number): string {
    return this.b.op('BatchNormalization', [
      x,
      this.weight([c], 0.2, 'bn_scale', 1),
      this.weight([c], 0.1, 'bn_bias'),
      this.weight([c], 0.1, 'bn_mean'),
      this.weight([c], 0.2, 'bn_var', 1),
    ]);
  }

  groupNorm(x: string, c: number, groups: number): string {
    return this.b.op(
      'GroupNormalization',
      [x, this.weight([c], 0.2, 'gn_scale', 1), this.weight([c], 0.1, 'gn_bias')],
      { num_groups: groups, epsilon: float(1e-5) },
    );
  }

  relu(x: string): string {
    return this.b.op('Relu', [x]);
  }

  silu(x: string): string {
    return this.b.op('Mul', [x, this.b.op('Sigmoid', [x])]);
  }
}

/** ResNet bottleneck (1×1 → 3×3 (stride) → 1×1 ×4, BN after each, projection shortcut when shapes change). */
export function bottleneck(n: Net, x: string, cin: number, width: number, stride: number): string {
  const cout = width * 4;
  let h = n.relu(n.batchNorm(n.conv(x, cin, width, 1, { bias: false }), width));
  h = n.relu(n.batchNorm(n.conv(h, width, width, 3, { stride, bias: false }), width));
  h = n.batchNorm(n.conv(h, width, cout, 1, { bias: false }), cout);
  const shortcut =
    stride !== 1 || cin !== cout ? n.batchNorm(n.conv(x, cin, cout, 1, { stride, pad: 0, bias: false }), cout) : x;
  return n.relu(n.b.op('Add', [h, shortcut]));
}

/** ResNet-50 (bottleneck stages 3-4-6-3) on 1×3×size×size, logits of 1000 classes; random weights. */
export function resnet50(size = 224): Model {
  const n = new Net(17, { name: 'pixels', dims: [1, 3, size, size] }, 50);
  let x = n.relu(n.batchNorm(n.conv('pixels', 3, 64, 7, { stride: 2, pad: 3, bias: false }), 64));
  x = n.b.op('MaxPool', [x], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] });
  let cin = 64;
  [
    [64, 3],
    [128, 4],
    [256, 6],
    [512, 3],
  ].forEach(([width, blocks], stage) => {
    for (let i = 0; i < blocks!; i++) {
      x = bottleneck(n, x, cin, width!, i === 0 && stage > 0 ? 2 : 1);
      cin = width! * 4;
    }
  });
  const pooled = n.b.op('Flatten', [n.b.op('GlobalAveragePool', [x])]);
  n.b.op(
    'Gemm',
    [pooled, n.weight([1000, 2048], Math.sqrt(3 / 2048), 'fc_w'), n.weight([1000], 0.01, 'fc_b')],
    { transB: 1 },
    'logits',
  );
  return n.output('logits');
}
