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

  /** GroupNormalization; its scale and bias are per group before opset 21, per channel from 21. */
  groupNorm(x: string, c: number, groups: number): string {
    const affine = this.b.opset >= 21 ? c : groups;
    return this.b.op(
      'GroupNormalization',
      [x, this.weight([affine], 0.2, 'gn_scale', 1), this.weight([affine], 0.1, 'gn_bias')],
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

/** ResNet stem and one stage of basic blocks: strided Conv-BN-Relu, MaxPool, projection and identity residuals. */
export function resnetStage(): Model {
  const n = new Net(13, { name: 'pixels', dims: [1, 3, 32, 32] }, 11);
  let x = n.relu(n.batchNorm(n.conv('pixels', 3, 8, 7, { stride: 2, pad: 3, bias: false }), 8));
  x = n.b.op('MaxPool', [x], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] });
  const basic = (x: string, cin: number, cout: number, stride: number): string => {
    let h = n.relu(n.batchNorm(n.conv(x, cin, cout, 3, { stride, bias: false }), cout));
    h = n.batchNorm(n.conv(h, cout, cout, 3, { bias: false }), cout);
    const shortcut = stride !== 1 ? n.batchNorm(n.conv(x, cin, cout, 1, { stride, pad: 0, bias: false }), cout) : x;
    return n.relu(n.b.op('Add', [h, shortcut]));
  };
  x = basic(basic(x, 8, 16, 2), 16, 16, 1);
  const pooled = n.b.op('Flatten', [n.b.op('GlobalAveragePool', [x])]);
  n.b.op('Gemm', [pooled, n.weight([10, 16], 0.4, 'fc_w'), n.weight([10], 0.1, 'fc_b')], { transB: 1 }, 'logits');
  return n.output('logits');
}

/** Diffusion-UNet residual block: GroupNorm → SiLU → Conv, twice, plus the input. */
function resBlock(n: Net, x: string, c: number, groups: number): string {
  let h = n.conv(n.silu(n.groupNorm(x, c, groups)), c, c, 3);
  h = n.conv(n.silu(n.groupNorm(h, c, groups)), c, c, 3);
  return n.b.op('Add', [x, h]);
}

/** Single-head self-attention over the spatial positions of a c×s×s map, with a residual. */
function attention(n: Net, x: string, c: number, s: number): string {
  const b = n.b;
  const normed = n.groupNorm(x, c, 4);
  const flat = (t: string): string => b.op('Reshape', [t, b.int64s([1, c, s * s], 'shape')]);
  const [q, k, v] = [0, 1, 2].map(() => flat(n.conv(normed, c, c, 1)));
  const scores = b.op('Mul', [
    b.op('MatMul', [b.op('Transpose', [q!], { perm: [0, 2, 1] }), k!]),
    b.scalar(1 / Math.sqrt(c), DataType.float32),
  ]);
  const weights = b.op('Softmax', [scores], { axis: -1 });
  const mixed = b.op('MatMul', [v!, b.op('Transpose', [weights], { perm: [0, 2, 1] })]);
  const back = b.op('Reshape', [mixed, b.int64s([1, c, s, s], 'shape')]);
  return b.op('Add', [x, n.conv(back, c, c, 1)]);
}

/**
 * UNet block at opset 21: residual block, attention, asymmetric Pad + strided Conv down,
 * nearest Resize and ConvTranspose up, skip Concat.
 */
export function unetBlock(): Model {
  const c = 8;
  const n = new Net(21, { name: 'latent', dims: [1, c, 8, 8] }, 21);
  const b = n.b;
  const h = attention(n, resBlock(n, 'latent', c, 4), c, 8);
  const padded = b.op('Pad', [h, b.int64s([0, 0, 0, 0, 0, 0, 1, 1], 'pads')]);
  const down = n.conv(padded, c, c, 3, { stride: 2, pad: 0 });
  const mid = n.silu(n.groupNorm(n.conv(down, c, c, 3), c, 4));
  const nearest = b.op('Resize', [mid, '', b.constant(DataType.float32, [4], [1, 1, 2, 2], 'scales')], {
    mode: 'nearest',
  });
  const up = n.conv(nearest, c, c, 3);
  const transposed = b.op('ConvTranspose', [mid, n.weight([c, c, 4, 4], Math.sqrt(3 / (c * 4)), 'convt_w')], {
    strides: [2, 2],
    pads: [1, 1, 1, 1],
  });
  const skip = b.op('Concat', [up, transposed, h], { axis: 1 });
  b.op('Identity', [n.conv(skip, 3 * c, c, 3)], undefined, 'out');
  return n.output('out');
}

/** VAE decoder block at opset 19: conv in, residual block, nearest Resize by sizes ×2, GroupNorm, SiLU, conv out. */
export function vaeDecoderBlock(): Model {
  const n = new Net(19, { name: 'z', dims: [1, 4, 8, 8] }, 19);
  const b = n.b;
  let h = resBlock(n, n.conv('z', 4, 16, 3), 16, 4);
  h = b.op('Resize', [h, '', '', b.int64s([1, 16, 16, 16], 'sizes')], {
    mode: 'nearest',
    coordinate_transformation_mode: 'asymmetric',
    nearest_mode: 'floor',
  });
  h = n.conv(n.silu(n.groupNorm(n.conv(h, 16, 16, 3), 16, 4)), 16, 3, 3);
  b.op('Identity', [h], undefined, 'image');
  return n.output('image');
}

/**
 * Extractor with its preprocessing, at opset 18: [-1, 1] → [0, 1], grayscale repeated to three
 * channels, bicubic resize, centre crop, bilinear downsizing, mean/std normalisation, reflect
 * padding, then a small Conv feature map pooled to features.
 */
export function extractorChain(): Model {
  const n = new Net(18, { name: 'gray', dims: [1, 1, 24, 20] }, 18);
  const b = n.b;
  const f32 = (v: number): string => b.scalar(v, DataType.float32);
  let x = b.op('Add', [b.op('Mul', ['gray', f32(0.5)]), f32(0.5)]);
  x = b.op('Expand', [x, b.int64s([1, 3, 24, 20], 'shape')]);
  x = b.op('Resize', [x, '', '', b.int64s([30, 26], 'sizes')], { mode: 'cubic', axes: [2, 3] });
  x = b.op('Slice', [x, b.int64s([3, 1]), b.int64s([27, 25]), b.int64s([2, 3])]);
  x = b.op('Resize', [x, '', '', b.int64s([1, 3, 16, 16], 'sizes')], {
    mode: 'linear',
    coordinate_transformation_mode: 'pytorch_half_pixel',
  });
  x = b.op('Div', [
    b.op('Sub', [x, b.constant(DataType.float32, [1, 3, 1, 1], [0.485, 0.456, 0.406], 'mean')]),
    b.constant(DataType.float32, [1, 3, 1, 1], [0.229, 0.224, 0.225], 'std'),
  ]);
  x = b.op('Pad', [x, b.int64s([0, 0, 1, 1, 0, 0, 1, 1], 'pads')], { mode: 'reflect' });
  const features = n.relu(n.conv(x, 3, 8, 3, { stride: 2, pad: 0 }));
  b.op('Flatten', [b.op('GlobalAveragePool', [features])], undefined, 'features');
  return n.output('features');
}
