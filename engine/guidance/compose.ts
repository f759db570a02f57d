/**
 * Composed ONNX graphs per (prior, extractor): x′ = x + γu → denoiser → prediction → x̂₀ → clamp →
 * [decoder] → extractor preprocessing → φ → fiber loss per sample, differentiated w.r.t. u by the
 * engine's VJP transform, and the forward-only graphs the sampler needs. Everything is standard
 * ONNX, run through engine/runtime; `OnnxFiberObjective` adapts them to the sampler's interface.
 */
import { cachedGradient } from '../autodiff/cache.ts';
import { InputError } from '../errors.ts';
import { DataType, GraphBuilder, connect, float, prefixNames } from '../onnx/index.ts';
import type { Dim, Model } from '../onnx/index.ts';
import type { ExtractorManifest, PreprocessStep, PriorManifest } from '../priors/bundle.ts';
import { priorInfo } from '../priors/bundle.ts';
import type { HostTensor, ModelSession, RuntimeOptions } from '../runtime/index.ts';
import { openSession, resolveShapes, tensor } from '../runtime/index.ts';
import type { FiberLossName } from './losses.ts';
import type {
  Clip,
  CostGradArgs,
  CostGradResult,
  FiberObjective,
  Prediction,
  PriorInfo,
  X0GradResult,
} from './objective.ts';
import { sizeOf } from './objective.ts';
import { foldRepeatedChannels } from './fold-channels.ts';
import { clampInPlace } from './updates.ts';

const F32 = DataType.float32;

export interface LoadedPrior {
  manifest: PriorManifest;
  denoiser: Model;
  decoder?: Model;
  encoder?: Model;
}

export interface LoadedExtractor {
  manifest: ExtractorManifest;
  model: Model;
}

export interface ComposeOptions {
  runtime?: RuntimeOptions;
  /** `upgrade` (default) converts the model of lower opset to the higher one when they differ; `equal` refuses. */
  opsets?: 'equal' | 'upgrade';
  /** A folder keeping derived gradient graphs by content hash (engine/autodiff/cache.ts); none: derived every process. */
  gradientCache?: string;
}

/** The one input/output a manifest names, or the model's only one. */
export function ioName(model: Model, side: 'input' | 'output', declared: string | undefined, field: string): string {
  const inits = new Set(model.graph.initializers.map((t) => t.name));
  const list = (side === 'input' ? model.graph.inputs.filter((v) => !inits.has(v.name)) : model.graph.outputs).map(
    (v) => v.name,
  );
  if (declared !== undefined) {
    if (!list.includes(declared))
      throw new InputError(field, `'${declared}' is not an ${side} of the model (${side}s: ${list.join(', ')})`);
    return declared;
  }
  if (list.length !== 1)
    throw new InputError(field, `the model has ${list.length} ${side}s (${list.join(', ')}); name one`);
  return list[0]!;
}

function opsetOf(m: Model): number {
  return m.opsets[''] ?? m.opsets['ai.onnx'] ?? 0;
}

/** A graph under construction: own nodes through a builder, sub-models attached with prefixed names. */
class Assembly {
  model: Model;
  b: GraphBuilder;
  constructor(
    name: string,
    opset: number,
    irVersion: number,
    private readonly opsets: 'equal' | 'upgrade',
  ) {
    this.model = {
      irVersion,
      opsets: { '': opset },
      producerName: 'fiberscope',
      producerVersion: '',
      metadata: {},
      graph: { name, nodes: [], inputs: [], outputs: [], initializers: [], valueInfo: [] },
    };
    this.b = GraphBuilder.forModel(this.model);
  }
  input(name: string, dataType: number, shape: Dim[]): string {
    this.model.graph.inputs.push({ name, dataType, shape });
    this.b.reserve(name);
    return name;
  }
  /** Feeds head tensors into a sub-model's inputs; returns the prefixed names of its outputs. */
  attach(sub: Model, prefix: string, links: Record<string, string>, outputs: string[]): string[] {
    const prefixed = prefixNames(sub, prefix);
    const mapped = Object.fromEntries(Object.entries(links).map(([input, from]) => [`${prefix}${input}`, from]));
    const inits = new Set(prefixed.graph.initializers.map((t) => t.name));
    const free = prefixed.graph.inputs.filter((v) => !inits.has(v.name) && !(v.name in mapped));
    if (free.length) {
      throw new InputError(
        sub.graph.name || prefix,
        `inputs ${free.map((v) => v.name.slice(prefix.length)).join(', ')} are not fed by fiberscope; export the model with only the declared inputs`,
      );
    }
    const names = outputs.map((o) => `${prefix}${o}`);
    const kept = this.model.graph.outputs.map((v) => v.name);
    this.model = connect(this.model, prefixed, mapped, { outputs: [...kept, ...names], opsets: this.opsets });
    this.b = GraphBuilder.forModel(this.model);
    return names;
  }
  output(name: string, from: string, dataType = F32, shape: Dim[] | null = null): void {
    this.b.op('Identity', [from], undefined, name);
    this.model.graph.outputs.push({ name, dataType, shape });
  }
  finish(outputs: string[]): Model {
    this.model.graph.outputs = this.model.graph.outputs.filter((v) => outputs.includes(v.name));
    return this.model;
  }
}

/** Clip bounds as graph feeds; no clamp is the widest float32 range. */
function clipFeeds(clip: Clip): Record<string, HostTensor> {
  const [lo, hi] = clip ?? [-3.4e38, 3.4e38];
  return { clip_min: tensor('float32', [], [lo]), clip_max: tensor('float32', [], [hi]) };
}

/** Per-sample reduction Σ_j v[n, j] of a tensor viewed as [N, size] (a MatMul with ones, which has a gradient rule). */
function sumPerSample(b: GraphBuilder, v: string, size: number): string {
  const flat = b.op('Reshape', [v, b.int64s([-1, size], 'flat')]);
  const ones = b.constant(F32, [size, 1], new Float32Array(size).fill(1), 'ones');
  return b.op('Reshape', [b.op('MatMul', [flat, ones]), b.int64s([-1], 'per_sample')]);
}

/** Emits the extractor's declared preprocessing on [N, C, H, W]; returns the output and its [C, H, W]. */
export function emitPreprocess(
  b: GraphBuilder,
  x: string,
  steps: readonly PreprocessStep[],
  shape: readonly [number, number, number],
): { out: string; shape: [number, number, number] } {
  let [c, h, w] = shape;
  let cur = x;
  steps.forEach((step, j) => {
    const at = `preprocess[${j}]`;
    switch (step.op) {
      case 'rescale': {
        const scale = (step.to[1] - step.to[0]) / (step.from[1] - step.from[0]);
        cur = b.op('Add', [b.op('Mul', [cur, b.scalar(scale, F32)]), b.scalar(step.to[0] - step.from[0] * scale, F32)]);
        break;
      }
      case 'resize': {
        const [H, W] = step.size;
        const lead = b.op('Slice', [b.op('Shape', [cur]), b.int64s([0]), b.int64s([2])]);
        const sizes = b.op('Concat', [lead, b.int64s([H, W], 'size')], { axis: 0 });
        const empty = b.opset >= 13 ? '' : b.constant(F32, [0], [], 'empty');
        cur = b.op('Resize', [cur, empty, empty, sizes], {
          mode: step.mode === 'bicubic' ? 'cubic' : 'linear',
          coordinate_transformation_mode: 'half_pixel',
          ...(step.mode === 'bicubic' ? { cubic_coeff_a: float(-0.75) } : {}),
        });
        [h, w] = [H, W];
        break;
      }
      case 'center_crop': {
        const [H, W] = step.size;
        if (H > h || W > w) throw new InputError(at, `crop ${H}×${W} is larger than the ${h}×${w} image it gets`);
        const top = Math.round((h - H) / 2);
        const left = Math.round((w - W) / 2);
        cur = b.op('Slice', [cur, b.int64s([top, left]), b.int64s([top + H, left + W]), b.int64s([2, 3])]);
        [h, w] = [H, W];
        break;
      }
      case 'normalize': {
        const n = step.mean.length;
        if (n !== 1 && n !== c)
          throw new InputError(at, `expected 1 or ${c} mean/std values for ${c} channels, got ${n}`);
        const mean = b.constant(F32, [1, n, 1, 1], step.mean, 'mean');
        const std = b.constant(F32, [1, n, 1, 1], step.std, 'std');
        cur = b.op('Div', [b.op('Sub', [cur, mean]), std]);
        break;
      }
      case 'repeat_channels': {
        if (step.channels % c !== 0) throw new InputError(at, `cannot repeat ${c} channels to ${step.channels}`);
        cur = b.op('Tile', [cur, b.int64s([1, step.channels / c, 1, 1], 'repeats')]);
        c = step.channels;
        break;
      }
      case 'grayscale': {
        if (c !== 3) throw new InputError(at, `grayscale expects 3 channels, gets ${c}`);
        const [r, g, bl] = b.split(cur, 1, [1, 1, 1]) as [string, string, string];
        const weighted = (t: string, k: number) => b.op('Mul', [t, b.scalar(k, F32)]);
        cur = b.op('Add', [b.op('Add', [weighted(r, 0.299), weighted(g, 0.587)]), weighted(bl, 0.114)]);
        c = 1;
        break;
      }
    }
  });
  return { out: cur, shape: [c, h, w] };
}

/** ℓ(h, y) per sample, [N], for features [N, F]. */
function emitLoss(b: GraphBuilder, loss: FiberLossName, h: string, y: string, F: number): string {
  const hf = b.op('Reshape', [h, b.int64s([-1, F], 'features')]);
  const diff = b.op('Sub', [hf, y]);
  if (loss === 'l2') return b.op('Sqrt', [sumPerSample(b, b.op('Mul', [diff, diff]), F)]);
  if (loss === 'l1') return sumPerSample(b, b.op('Abs', [diff]), F);
  // CE(h, softmax(y)) = logΣexp(h) − Σ softmax(y)·h. The log-sum-exp is shifted by a rounded max,
  // a constant for the gradient (Round has none), so no ReduceMax gradient is needed.
  const max = (v: string) =>
    b.op('Round', [
      b.opset >= 18
        ? b.op('ReduceMax', [v, b.int64s([1], 'axes')], { keepdims: 1 })
        : b.op('ReduceMax', [v], { axes: [1], keepdims: 1 }),
    ]);
  const yExp = b.op('Exp', [b.op('Sub', [y, max(y)])]);
  const q = b.op('Div', [yExp, b.unsqueeze(sumPerSample(b, yExp, F), [1])]);
  const shift = max(hf);
  const lse = b.op('Add', [
    b.op('Log', [sumPerSample(b, b.op('Exp', [b.op('Sub', [hf, shift])]), F)]),
    b.op('Reshape', [shift, b.int64s([-1], 'per_sample')]),
  ]);
  return b.op('Sub', [lse, sumPerSample(b, b.op('Mul', [q, hf]), F)]);
}

/** Builds and runs the graphs of one (prior, extractor) pair. */
export class OnnxFiberObjective implements FiberObjective {
  readonly prior: PriorInfo;
  readonly loss: FiberLossName;
  featureDim = 0;
  private readonly stateDims: number[];
  private readonly imageDims: [number, number, number];
  private readonly timestep: { name: string; dataType: number; rank: number };
  private readonly denoiserIO: { input: string; output: string };
  private readonly extractorIO: { input: string; output: string };
  private readonly forward = new Map<string, Promise<ModelSession>>();
  private readonly gradients = new Map<string, Promise<ModelSession>>();
  private readonly opsetPolicy: 'equal' | 'upgrade';
  /** φ and the preprocessing emitted before it (repeated channels folded into φ's first layer where they can be). */
  private readonly phi: { steps: readonly PreprocessStep[]; model: Model };

  private constructor(
    private readonly priorBundle: LoadedPrior,
    private readonly extractor: LoadedExtractor,
    private readonly options: ComposeOptions,
  ) {
    const m = priorBundle.manifest;
    this.prior = priorInfo(m);
    this.loss = extractor.manifest.loss;
    this.stateDims = [...this.prior.stateShape];
    this.imageDims = [m.image.channels, m.image.height, m.image.width];
    this.opsetPolicy = options.opsets ?? 'upgrade';
    const d = priorBundle.denoiser;
    this.denoiserIO = {
      input: ioName(d, 'input', m.denoiser.input, 'denoiser.input'),
      output: ioName(d, 'output', m.denoiser.output, 'denoiser.output'),
    };
    const tName = ioName(d, 'input', m.denoiser.timestep, 'denoiser.timestep');
    const tInfo = d.graph.inputs.find((v) => v.name === tName)!;
    if (tInfo.dataType !== DataType.int64 && tInfo.dataType !== F32) {
      throw new InputError(
        'denoiser.timestep',
        `expected an int64 or float32 timestep input, '${tName}' is of type ${tInfo.dataType}`,
      );
    }
    this.timestep = { name: tName, dataType: tInfo.dataType, rank: tInfo.shape?.length ?? 1 };
    this.extractorIO = {
      input: ioName(extractor.model, 'input', extractor.manifest.model.input, 'model.input'),
      output: ioName(extractor.model, 'output', extractor.manifest.model.output, 'model.output'),
    };
    this.phi = foldRepeatedChannels(
      extractor.manifest.preprocess,
      extractor.model,
      this.extractorIO.input,
      this.imageDims,
    ) ?? { steps: extractor.manifest.preprocess, model: extractor.model };
    if (m.latent && !priorBundle.decoder)
      throw new InputError('latent.decoder', 'a latent prior needs its decoder model');
  }

  /** Validates the pair and measures the feature dimension with one forward pass of φ. */
  static async create(
    prior: LoadedPrior,
    extractor: LoadedExtractor,
    options: ComposeOptions = {},
  ): Promise<OnnxFiberObjective> {
    const o = new OnnxFiberObjective(prior, extractor, options);
    const probe = await o.imageFeaturesRaw(new Float32Array(sizeOf(o.imageDims)), 1);
    o.featureDim = probe.length;
    return o;
  }

  private batchDims(batch: number): number[] {
    return [batch, ...this.stateDims];
  }

  private session(
    cache: Map<string, Promise<ModelSession>>,
    key: string,
    build: () => Promise<Model | string>,
  ): Promise<ModelSession> {
    let s = cache.get(key);
    if (!s) {
      s = build().then((m) =>
        openSession(m, this.options.runtime ?? {}, `${this.priorBundle.manifest.name ?? 'prior'}+extractor ${key}`),
      );
      cache.set(key, s);
      s.catch(() => cache.delete(key));
    }
    return s;
  }

  private assembly(name: string, first: Model): Assembly {
    const ir = Math.max(8, this.priorBundle.denoiser.irVersion, this.extractor.model.irVersion);
    return new Assembly(name, opsetOf(first), ir, this.opsetPolicy);
  }

  private stateInput(a: Assembly, name: string): string {
    return a.input(name, F32, ['N', ...this.stateDims]);
  }

  private timestepInput(a: Assembly): string {
    return a.input('t', this.timestep.dataType, this.timestep.rank === 0 ? [] : ['N']);
  }

  /** Denoiser at `xp`: the prediction converted to ε (or the velocity), optional variance channels, and x̂ (unclamped). */
  private emitPrediction(a: Assembly, xp: string): { pred: string; variance?: string; estimate: string } {
    const m = this.priorBundle.manifest;
    const [raw] = a.attach(
      this.priorBundle.denoiser,
      'prior/',
      { [this.denoiserIO.input]: xp, [this.timestep.name]: 't' },
      [this.denoiserIO.output],
    );
    let out = raw!;
    let variance: string | undefined;
    const b = a.b;
    if (m.denoiser.varianceChannels) {
      const c = this.stateDims[0]!;
      [out, variance] = b.split(out, 1, [c, c]) as [string, string];
    }
    if (m.type === 'flow') {
      const oneMinusT = a.input('one_minus_t', F32, []);
      return {
        pred: out,
        estimate: a.b.op('Add', [xp, a.b.op('Mul', [oneMinusT, out])]),
        ...(variance ? { variance } : {}),
      };
    }
    const sa = a.input('sqrt_abar', F32, []);
    const so = a.input('sqrt_one_minus_abar', F32, []);
    let eps = out;
    if (m.denoiser.prediction === 'v') eps = b.op('Add', [b.op('Mul', [sa, out]), b.op('Mul', [so, xp])]);
    else if (m.denoiser.prediction === 'x0') eps = b.op('Div', [b.op('Sub', [xp, b.op('Mul', [sa, out])]), so]);
    const estimate = b.op('Div', [b.op('Sub', [xp, b.op('Mul', [so, eps])]), sa]);
    return { pred: eps, estimate, ...(variance ? { variance } : {}) };
  }

  /** Clamp with the range fed at run time (`clip_min`, `clip_max`), so options can override the prior's. */
  private emitClip(a: Assembly, x: string): string {
    return a.b.op('Clip', [x, a.input('clip_min', F32, []), a.input('clip_max', F32, [])]);
  }

  /** φ(preprocess(decode(state))) or φ(preprocess(image)); returns the features tensor. */
  private emitFeatures(a: Assembly, x: string, fromState: boolean): string {
    let image = x;
    const latent = this.priorBundle.manifest.latent;
    if (fromState && latent) {
      const dec = this.priorBundle.decoder!;
      const scaled = a.b.op('Div', [x, a.b.scalar(latent.scale, F32)]);
      const decIn = ioName(dec, 'input', latent.decoder.input, 'latent.decoder.input');
      const decOut = ioName(dec, 'output', latent.decoder.output, 'latent.decoder.output');
      image = a.attach(dec, 'decoder/', { [decIn]: scaled }, [decOut])[0]!;
    }
    const pre = emitPreprocess(a.b, image, this.phi.steps, this.imageDims);
    return a.attach(this.phi.model, 'phi/', { [this.extractorIO.input]: pre.out }, [this.extractorIO.output])[0]!;
  }

  private gradientModel(forward: Model, wrt: string, inputDims: Record<string, number[]>): Promise<Model | string> {
    return cachedGradient(this.options.gradientCache, forward, { of: 'cost', wrt, inputDims }, () =>
      this.deriveGradient(forward, wrt, inputDims),
    );
  }

  private async deriveGradient(forward: Model, wrt: string, inputDims: Record<string, number[]>): Promise<Model> {
    // Loaded on a cache miss only: the transform and its rules are a fifth of start-up's imports.
    const [{ vjp }, shapes] = await Promise.all([
      import('../autodiff/vjp.ts'),
      resolveShapes(forward, inputDims, this.options.runtime ?? {}),
    ]);
    const g = vjp(forward, { of: 'cost', wrt: [wrt], shapes });
    // The transform keeps only the cost and the gradient; re-expose the other forward outputs (x̂₀, prediction).
    const available = new Set([...g.graph.nodes.flatMap((n) => n.outputs), ...g.graph.inputs.map((v) => v.name)]);
    for (const v of forward.graph.outputs) {
      if (v.name === 'cost') continue;
      const node = forward.graph.nodes.find((n) => n.outputs[0] === v.name);
      if (!node || !node.inputs.every((i) => available.has(i)))
        throw new Error(`output ${v.name} is not recoverable after the gradient transform`);
      g.graph.nodes.push(node);
      g.graph.outputs.push(v);
    }
    return g;
  }

  private feedsFor(session: ModelSession, all: Record<string, HostTensor>): Record<string, HostTensor> {
    const wanted = new Set(session.inputs.map((i) => i.name));
    return Object.fromEntries(Object.entries(all).filter(([k]) => wanted.has(k)));
  }

  private scheduleFeeds(t: number, batch: number): Record<string, HostTensor> {
    const feeds: Record<string, HostTensor> = {};
    const dims = this.timestep.rank === 0 ? [] : [batch];
    const values = new Array<number>(dims.length ? batch : 1).fill(t);
    feeds['t'] =
      this.timestep.dataType === DataType.int64 ? tensor('int64', dims, values) : tensor('float32', dims, values);
    if (this.prior.kind === 'flow') feeds['one_minus_t'] = tensor('float32', [], [1 - t]);
    else {
      const ab = this.prior.schedule!.alphaBar(t);
      feeds['sqrt_abar'] = tensor('float32', [], [Math.sqrt(ab)]);
      feeds['sqrt_one_minus_abar'] = tensor('float32', [], [Math.sqrt(1 - ab)]);
    }
    return feeds;
  }

  /**
   * Opens, without evaluating, every session a sampling run at this batch size needs (the cost
   * gradient with or without the τ term, the prediction, the features): a worker or benchmark can
   * pay session creation before its first step.
   */
  async prepare(batch: number, options: { tau?: number } = {}): Promise<void> {
    await this.costSession(batch, (options.tau ?? 0) > 0);
    await this.predictSession(batch);
    if (this.priorBundle.decoder) await this.featuresSession(batch);
  }

  /** One per batch size, as the cost gradient: its restated form has that batch size's static shapes. */
  private predictSession(batch: number): Promise<ModelSession> {
    return this.session(this.forward, `predict/${batch}`, async () => {
      const a = this.assembly('predict', this.priorBundle.denoiser);
      this.timestepInput(a);
      const p = this.emitPrediction(a, this.stateInput(a, 'x'));
      a.output('pred', p.pred);
      if (p.variance) a.output('variance', p.variance);
      const forward = a.finish(['pred', 'variance']);
      const dims: Record<string, number[]> = { x: this.batchDims(batch) };
      if (this.timestep.rank > 0) dims['t'] = [batch];
      return this.restatedForward(forward, p.variance ? ['pred', 'variance'] : ['pred'], 'x', dims);
    });
  }

  /**
   * A forward model as the gradient graph computes it (autodiff/forward.ts): the same values with
   * the gradient rules' cheaper forms (phase Convs after nearest upsamplings, GroupNorm's affine
   * part as one BatchNormalization), cached like gradient graphs. Where the transform refuses the
   * model (an op without a gradient rule) or fails on it, the model itself serves: sampling without
   * guidance must not need gradients.
   */
  private async restatedForward(
    forward: Model,
    outputs: string[],
    wrt: string,
    inputDims: Record<string, number[]>,
  ): Promise<Model | string> {
    const request = { forward: outputs, wrt, inputDims };
    try {
      return await cachedGradient(this.options.gradientCache, forward, request, async () => {
        const [{ restatedForward }, shapes] = await Promise.all([
          import('../autodiff/forward.ts'),
          resolveShapes(forward, inputDims, this.options.runtime ?? {}),
        ]);
        return restatedForward(forward, { of: outputs[0]!, alsoOutput: outputs.slice(1), wrt: [wrt], shapes });
      });
    } catch {
      // The transform refused the model (InputError) or failed on it: the model itself computes the
      // same outputs, only without the cheaper forms.
      return forward;
    }
  }

  async predict(x: Float32Array, t: number, batch: number): Promise<Prediction> {
    const s = await this.predictSession(batch);
    const out = await s.run(
      this.feedsFor(s, { x: tensor('float32', this.batchDims(batch), x), ...this.scheduleFeeds(t, batch) }),
    );
    const result: Prediction = { out: out['pred']!.data as Float32Array };
    if (out['variance']) result.variance = out['variance'].data as Float32Array;
    return result;
  }

  async features(x0: Float32Array, batch: number, clip: Clip): Promise<Float32Array> {
    // A pixel prior's state is the extractor's image: clamp here and share imageFeatures' session
    // rather than hold a second copy of φ (its weights, packed weights and arena).
    if (!this.priorBundle.decoder) return this.imageFeaturesRaw(clampInPlace(Float32Array.from(x0), clip), batch);
    const s = await this.featuresSession(batch);
    const out = await s.run({ x0: tensor('float32', this.batchDims(batch), x0), ...clipFeeds(clip) });
    return out['features']!.data as Float32Array;
  }

  /** φ(preprocess(decode(clip(x₀)))) of a latent prior (a pixel prior's features share imageFeatures'). */
  private featuresSession(batch: number): Promise<ModelSession> {
    return this.session(this.forward, `features/${batch}`, async () => {
      const a = this.assembly('features', this.priorBundle.decoder!);
      const x = this.emitClip(a, this.stateInput(a, 'x0'));
      a.output('features', this.emitFeatures(a, x, true));
      return this.restatedForward(a.finish(['features']), ['features'], 'x0', { x0: this.batchDims(batch) });
    });
  }

  private async imageFeaturesRaw(images: Float32Array, batch: number): Promise<Float32Array> {
    const s = await this.session(this.forward, 'imageFeatures', async () => {
      const a = this.assembly('image_features', this.extractor.model);
      const x = a.input('images', F32, ['N', ...this.imageDims]);
      a.output('features', this.emitFeatures(a, x, false));
      return a.finish(['features']);
    });
    return (await s.run({ images: tensor('float32', [batch, ...this.imageDims], images) }))['features']!
      .data as Float32Array;
  }

  imageFeatures(images: Float32Array, batch: number): Promise<Float32Array> {
    return this.imageFeaturesRaw(images, batch);
  }

  private costSession(batch: number, withTau: boolean): Promise<ModelSession> {
    const F = this.featureDim;
    return this.session(this.gradients, `cost/${batch}/${withTau ? 'tau' : 'no-tau'}`, async () => {
      const a = this.assembly('fiber_cost', this.priorBundle.denoiser);
      const x = this.stateInput(a, 'x');
      const u = this.stateInput(a, 'u');
      const gamma = a.input('gamma', F32, []);
      this.timestepInput(a);
      const y = a.input('y', F32, ['N', F]);
      const weight = a.input('weight', F32, []);
      const xp = a.b.op('Add', [x, a.b.op('Mul', [gamma, u])]);
      const p = this.emitPrediction(a, xp);
      const x0hat = this.emitClip(a, p.estimate);
      const h = this.emitFeatures(a, x0hat, true);
      let cost = a.b.op('Mul', [weight, emitLoss(a.b, this.loss, h, y, F)]);
      if (withTau) {
        const tau = a.input('tau', F32, []);
        const epsRef = this.stateInput(a, 'eps_ref');
        const d = a.b.op('Sub', [p.pred, epsRef]);
        cost = a.b.op('Add', [
          cost,
          a.b.op('Mul', [tau, sumPerSample(a.b, a.b.op('Mul', [d, d]), sizeOf(this.stateDims))]),
        ]);
      }
      a.output('cost', cost, F32, ['N']);
      a.output('x0hat', x0hat, F32, ['N', ...this.stateDims]);
      a.output('pred', p.pred, F32, ['N', ...this.stateDims]);
      const forward = a.finish(['cost', 'x0hat', 'pred']);
      const dims: Record<string, number[]> = { x: this.batchDims(batch), u: this.batchDims(batch), y: [batch, F] };
      if (this.timestep.rank > 0) dims['t'] = [batch];
      if (withTau) dims['eps_ref'] = this.batchDims(batch);
      return this.gradientModel(forward, 'u', dims);
    });
  }

  async costGrad(args: CostGradArgs): Promise<CostGradResult> {
    const { batch } = args;
    const withTau = args.tau > 0;
    const F = this.featureDim;
    const s = await this.costSession(batch, withTau);
    const feeds: Record<string, HostTensor> = {
      x: tensor('float32', this.batchDims(batch), args.x),
      u: tensor('float32', this.batchDims(batch), args.u),
      gamma: tensor('float32', [], [args.gamma]),
      y: tensor('float32', [batch, F], args.y),
      weight: tensor('float32', [], [args.weight]),
      d_cost: tensor('float32', [batch], new Float32Array(batch).fill(1)),
      ...this.scheduleFeeds(args.t, batch),
      ...clipFeeds(args.clip),
    };
    if (withTau) {
      feeds['tau'] = tensor('float32', [], [args.tau]);
      feeds['eps_ref'] = tensor('float32', this.batchDims(batch), args.epsRef ?? new Float32Array(args.x.length));
    }
    const out = await s.run(this.feedsFor(s, feeds));
    return {
      cost: Float64Array.from(out['cost']!.data as Float32Array),
      gradU: out['d_u']!.data as Float32Array,
      x0hat: out['x0hat']!.data as Float32Array,
      pred: out['pred']!.data as Float32Array,
    };
  }

  async costGradX0(
    x0: Float32Array,
    y: Float32Array,
    batch: number,
    weight: number,
    clip: Clip,
  ): Promise<X0GradResult> {
    const F = this.featureDim;
    const s = await this.session(this.gradients, `costX0/${batch}`, async () => {
      const a = this.assembly('fiber_cost_x0', this.priorBundle.decoder ?? this.extractor.model);
      const x = this.stateInput(a, 'x0');
      const yIn = a.input('y', F32, ['N', F]);
      const w = a.input('weight', F32, []);
      const h = this.emitFeatures(a, this.emitClip(a, x), true);
      a.output('cost', a.b.op('Mul', [w, emitLoss(a.b, this.loss, h, yIn, F)]), F32, ['N']);
      return this.gradientModel(a.finish(['cost']), 'x0', { x0: this.batchDims(batch), y: [batch, F] });
    });
    const out = await s.run({
      x0: tensor('float32', this.batchDims(batch), x0),
      y: tensor('float32', [batch, F], y),
      weight: tensor('float32', [], [weight]),
      d_cost: tensor('float32', [batch], new Float32Array(batch).fill(1)),
      ...clipFeeds(clip),
    });
    return { cost: Float64Array.from(out['cost']!.data as Float32Array), gradX0: out['d_x0']!.data as Float32Array };
  }

  async encode(images: Float32Array, batch: number): Promise<Float32Array> {
    const latent = this.priorBundle.manifest.latent;
    if (!latent) return images;
    const enc = this.priorBundle.encoder;
    if (!enc)
      throw new InputError('latent.encoder', 'this latent prior has no encoder (needed for a per-timestep target)');
    const s = await this.session(this.forward, 'encode', async () => {
      const a = this.assembly('encode', enc);
      const x = a.input('images', F32, ['N', ...this.imageDims]);
      const encIn = ioName(enc, 'input', latent.encoder!.input, 'latent.encoder.input');
      const encOut = ioName(enc, 'output', latent.encoder!.output, 'latent.encoder.output');
      const [z] = a.attach(enc, 'encoder/', { [encIn]: x }, [encOut]);
      a.output('state', a.b.op('Mul', [z!, a.b.scalar(latent.scale, F32)]));
      return a.finish(['state']);
    });
    return (await s.run({ images: tensor('float32', [batch, ...this.imageDims], images) }))['state']!
      .data as Float32Array;
  }

  async decode(states: Float32Array, batch: number): Promise<Float32Array> {
    const latent = this.priorBundle.manifest.latent;
    if (!latent) return states;
    const dec = this.priorBundle.decoder!;
    const s = await this.session(this.forward, 'decode', async () => {
      const a = this.assembly('decode', dec);
      const z = this.stateInput(a, 'state');
      const decIn = ioName(dec, 'input', latent.decoder.input, 'latent.decoder.input');
      const decOut = ioName(dec, 'output', latent.decoder.output, 'latent.decoder.output');
      const [img] = a.attach(dec, 'decoder/', { [decIn]: a.b.op('Div', [z, a.b.scalar(latent.scale, F32)]) }, [decOut]);
      a.output('images', img!);
      return a.finish(['images']);
    });
    return (await s.run({ state: tensor('float32', this.batchDims(batch), states) }))['images']!.data as Float32Array;
  }
}
