/**
 * Repeated channels folded into the extractor's first convolution. A grayscale prior audited
 * through an RGB extractor (the CheXpert setting) feeds φ an image whose channels are copies of
 * one, each normalised with its own mean and std: conv(W, (tile(x) − m)/s) is the same function as
 * conv(W′, x) + M, W′[o, i] = Σ_{c ≡ i} W[o, c]/s_c over the copies c of channel i, M the constant
 * map −Σ_c (m_c/s_c) Σ_{taps inside the image} W[o, c, tap] (the zero padding of the normalised
 * image is what keeps M from being a plain bias). The copies, the normalisation and two thirds of
 * the first layer's work (forward and gradient) go; the spatial preprocessing before it runs on one
 * channel instead of three. Exact up to float rounding; anything outside the pattern is left as is.
 */
import { attrInt, attrInts, attrString } from '../onnx/attributes.ts';
import { DataType, makeTensor, numel, tensorValues } from '../onnx/ir.ts';
import type { Model, Node } from '../onnx/ir.ts';
import type { PreprocessStep } from '../priors/bundle.ts';

export interface FoldedFeatures {
  /** The preprocessing left to emit: without the channel copies and the folded normalisation. */
  steps: PreprocessStep[];
  /** The extractor with its first convolution taking the uncopied channels. */
  model: Model;
}

/** Whether a step treats every channel alike (so that it commutes with copying channels). */
function channelUniform(step: PreprocessStep): boolean {
  if (step.op === 'normalize') return step.mean.length === 1;
  return step.op === 'rescale' || step.op === 'resize' || step.op === 'center_crop';
}

/** Spatial size after the steps, from the image's [H, W]. */
function spatialAfter(steps: readonly PreprocessStep[], hw: [number, number]): [number, number] {
  let out = hw;
  for (const s of steps) if (s.op === 'resize' || s.op === 'center_crop') out = [...s.size];
  return out;
}

/** Begin and end padding of one spatial axis, as ONNX Conv defines them; undefined for an unknown auto_pad. */
function axisPads(
  conv: Node,
  axis: number,
  size: number,
  extent: number,
  stride: number,
): [number, number] | undefined {
  const autoPad = attrString(conv, 'auto_pad', 'NOTSET');
  if (autoPad === 'NOTSET') {
    const pads = attrInts(conv, 'pads') ?? [0, 0, 0, 0];
    return [pads[axis]!, pads[axis + 2]!];
  }
  if (autoPad === 'VALID') return [0, 0];
  if (autoPad !== 'SAME_UPPER' && autoPad !== 'SAME_LOWER') return undefined;
  const total = Math.max(0, (Math.ceil(size / stride) - 1) * stride + extent - size);
  const small = Math.floor(total / 2);
  return autoPad === 'SAME_UPPER' ? [small, total - small] : [total - small, small];
}

/**
 * The fold for these preprocessing steps and extractor, or undefined where it does not apply: one
 * repeat_channels step; after it only channel-uniform steps and, last, at most one per-channel
 * normalize; the model input read by exactly one node, a group-1 float32 Conv with constant 4-D
 * weights over the repeated channels.
 */
export function foldRepeatedChannels(
  steps: readonly PreprocessStep[],
  model: Model,
  input: string,
  image: readonly [number, number, number],
): FoldedFeatures | undefined {
  const at = steps.findIndex((s) => s.op === 'repeat_channels');
  if (at < 0 || steps.some((s, i) => i !== at && s.op === 'repeat_channels')) return undefined;
  if (steps.slice(0, at).some((s) => s.op === 'grayscale')) return undefined;
  const repeat = steps[at] as Extract<PreprocessStep, { op: 'repeat_channels' }>;
  const after = steps.slice(at + 1);
  const last = after[after.length - 1];
  const normalize = last?.op === 'normalize' && last.mean.length > 1 ? last : undefined;
  const uniform = normalize ? after.slice(0, -1) : after;
  if (!uniform.every(channelUniform)) return undefined;
  if (normalize && (normalize.mean.length !== repeat.channels || normalize.std.length !== repeat.channels))
    return undefined;

  const g = model.graph;
  const readers = g.nodes.filter((n) => n.inputs.includes(input));
  const conv = readers[0];
  if (readers.length !== 1 || !conv || conv.opType !== 'Conv' || (conv.domain !== '' && conv.domain !== 'ai.onnx'))
    return undefined;
  if (conv.inputs[0] !== input || conv.inputs.indexOf(input, 1) >= 0 || attrInt(conv, 'group', 1) !== 1)
    return undefined;
  const w = g.initializers.find((t) => t.name === conv.inputs[1]);
  const C = repeat.channels;
  if (!w || w.dataType !== DataType.float32 || w.dims.length !== 4 || w.dims[1] !== C) return undefined;
  if (w.raw.byteLength !== numel(w.dims) * 4) return undefined;

  // Channels as they reach the copy: the image's, less any grayscale before it (refused above).
  const c0 = image[0];
  if (C % c0 !== 0) return undefined;
  const [O, , kh, kw] = w.dims as [number, number, number, number];
  if ((attrInts(conv, 'kernel_shape') ?? [kh, kw]).join() !== `${kh},${kw}`) return undefined;
  const mean = normalize ? normalize.mean : new Array<number>(C).fill(0);
  const std = normalize ? normalize.std : new Array<number>(C).fill(1);
  const W = tensorValues(w);
  const taps = kh * kw;
  // W′[o, i] = Σ_{c ≡ i (mod c0)} W[o, c]/s_c; Wm[o, tap] = Σ_c W[o, c, tap] m_c/s_c.
  const folded = new Float32Array(O * c0 * taps);
  const meanTaps = new Float64Array(O * taps);
  for (let o = 0; o < O; o++)
    for (let c = 0; c < C; c++)
      for (let t = 0; t < taps; t++) {
        const v = W[(o * C + c) * taps + t]! / std[c]!;
        folded[(o * c0 + (c % c0)) * taps + t]! += v;
        meanTaps[o * taps + t]! += v * mean[c]!;
      }

  const names = new Set([
    ...g.inputs.map((v) => v.name),
    ...g.initializers.map((t) => t.name),
    ...g.nodes.flatMap((n) => [n.name, ...n.outputs]),
  ]);
  const fresh = (base: string): string => {
    let name = base;
    for (let i = 1; names.has(name); i++) name = `${base}_${i}`;
    names.add(name);
    return name;
  };
  const weightName = fresh(`${w.name}_folded`);
  const initializers = [...g.initializers, makeTensor(weightName, DataType.float32, [O, c0, kh, kw], folded)];
  const newConv: Node = { ...conv, inputs: [conv.inputs[0]!, weightName, ...conv.inputs.slice(2)] };
  const nodes = g.nodes.map((n) => (n === conv ? newConv : n));

  if (mean.some((m) => m !== 0)) {
    // M[o, y, x] = −Σ_{(a, b) inside} Wm[o, a, b]; "inside" is separable: rows × columns.
    const [H, Wd] = spatialAfter(steps, [image[1], image[2]]);
    const strides = attrInts(conv, 'strides') ?? [1, 1];
    const dilations = attrInts(conv, 'dilations') ?? [1, 1];
    const inside = (axis: number, size: number, k: number): Uint8Array[] | undefined => {
      const extent = (k - 1) * dilations[axis]! + 1;
      const pads = axisPads(conv, axis, size, extent, strides[axis]!);
      if (!pads) return undefined;
      const outSize = Math.floor((size + pads[0] + pads[1] - extent) / strides[axis]!) + 1;
      return Array.from({ length: outSize }, (_, p) =>
        Uint8Array.from({ length: k }, (_, j) => {
          const i = p * strides[axis]! - pads[0] + j * dilations[axis]!;
          return i >= 0 && i < size ? 1 : 0;
        }),
      );
    };
    const rows = inside(0, H, kh);
    const cols = inside(1, Wd, kw);
    if (!rows || !cols) return undefined;
    const [Ho, Wo] = [rows.length, cols.length];
    const map = new Float32Array(O * Ho * Wo);
    const partial = new Float64Array(kw);
    for (let o = 0; o < O; o++)
      for (let y = 0; y < Ho; y++) {
        partial.fill(0);
        for (let a = 0; a < kh; a++)
          if (rows[y]![a]) for (let b = 0; b < kw; b++) partial[b]! += meanTaps[(o * kh + a) * kw + b]!;
        for (let x = 0; x < Wo; x++) {
          let s = 0;
          for (let b = 0; b < kw; b++) if (cols[x]![b]) s += partial[b]!;
          map[(o * Ho + y) * Wo + x] = -s;
        }
      }
    const mapName = fresh(`${w.name}_fold_map`);
    initializers.push(makeTensor(mapName, DataType.float32, [1, O, Ho, Wo], map));
    const out = conv.outputs[0]!;
    const raw = fresh(`${out}_before_fold_map`);
    newConv.outputs = [raw, ...conv.outputs.slice(1)];
    nodes.splice(nodes.indexOf(newConv) + 1, 0, {
      name: fresh(`${conv.name || 'conv'}_fold_map`),
      opType: 'Add',
      domain: '',
      inputs: [raw, mapName],
      outputs: [out],
      attributes: [],
    });
  }

  const inputs = g.inputs.map((v) =>
    v.name === input && v.shape && v.shape.length === 4 ? { ...v, shape: [v.shape[0]!, c0, ...v.shape.slice(2)] } : v,
  );
  const stillRead = nodes.some((n) => n.inputs.includes(w.name));
  return {
    steps: [...steps.slice(0, at), ...uniform],
    model: {
      ...model,
      graph: {
        ...g,
        nodes,
        inputs,
        initializers: stillRead ? initializers : initializers.filter((t) => t !== w),
      },
    },
  };
}
