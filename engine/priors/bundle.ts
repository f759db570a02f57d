/**
 * Bundle manifests (`fiberscope.json`, DESIGN "Bundles"): a public, versioned contract. Validation
 * fills the documented defaults and refuses anything else with an InputError naming the field and
 * what was expected. Checking that the named ONNX inputs/outputs exist happens when the models load.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../errors.ts';
import type { FiberLossName } from '../guidance/losses.ts';
import { FIBER_LOSSES } from '../guidance/losses.ts';
import type { PriorInfo } from '../guidance/objective.ts';
import type { FiberMetricName } from '../metrics/fiber.ts';
import { FIBER_METRICS } from '../metrics/fiber.ts';
import type { ScheduleSpec } from './schedule.ts';
import { DEFAULT_SCHEDULE, NoiseSchedule } from './schedule.ts';

export const MANIFEST_FILE = 'fiberscope.json';
export const MANIFEST_VERSION = 1;

/** An ONNX file and the names of the tensors used; an omitted name means the model's only input/output. */
export interface ModelRef {
  file: string;
  input?: string;
  output?: string;
}

export interface DenoiserRef {
  file: string;
  /** Default `x`. */
  input: string;
  /** Default `t`. */
  timestep: string;
  /** Default `eps` (diffusion) or `velocity` (flow). */
  output: string;
  /** Diffusion: epsilon (default) | v | x0. Flow: velocity. */
  prediction: 'epsilon' | 'v' | 'x0' | 'velocity';
  /** The output carries 2× the channels, the second half being variance channels (learned_range). Default false. */
  varianceChannels: boolean;
}

export interface ImageSpec {
  channels: number;
  height: number;
  width: number;
  /** Default [−1, 1]. */
  range: [number, number];
  /** Query images of another size are resized (bilinear) to this one instead of refused. Default false. */
  resize: boolean;
}

export interface LatentSpec {
  decoder: ModelRef;
  encoder?: ModelRef;
  /** Latents are multiplied by `scale` after encoding and divided by it before decoding. Default 1. */
  scale: number;
  shape: number[];
}

export interface PriorManifest {
  version: 1;
  kind: 'prior';
  type: 'diffusion' | 'flow';
  name?: string;
  denoiser: DenoiserRef;
  /** Diffusion priors; default linear 1e-4 → 0.02 over 1000 steps. */
  schedule?: ScheduleSpec;
  image: ImageSpec;
  latent?: LatentSpec;
  /** Clamp of x̂₀; default the image range for pixel priors, none for latent priors. */
  clip: [number, number] | null;
}

export type PreprocessStep =
  | { op: 'rescale'; from: [number, number]; to: [number, number] }
  | { op: 'resize'; size: [number, number]; mode: 'bilinear' | 'bicubic' }
  | { op: 'center_crop'; size: [number, number] }
  | { op: 'normalize'; mean: number[]; std: number[] }
  | { op: 'repeat_channels'; channels: number }
  | { op: 'grayscale' };

export interface ExtractorManifest {
  version: 1;
  kind: 'extractor';
  name?: string;
  model: ModelRef;
  preprocess: PreprocessStep[];
  /** Default l2. */
  loss: FiberLossName;
  /** Default squared_l2. */
  metric: FiberMetricName;
}

export type BundleManifest = PriorManifest | ExtractorManifest;

/** Field access with errors naming `source#path`. */
class Fields {
  constructor(
    readonly source: string,
    private readonly path: string,
    readonly value: Record<string, unknown>,
  ) {}
  static of(source: string, path: string, value: unknown): Fields {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new InputError(`${source}#${path || '(root)'}`, `expected an object, got ${describe(value)}`);
    }
    return new Fields(source, path, value as Record<string, unknown>);
  }
  name(key: string): string {
    return `${this.source}#${this.path ? `${this.path}.` : ''}${key}`;
  }
  fail(key: string, expected: string): never {
    throw new InputError(this.name(key), `expected ${expected}, got ${describe(this.value[key])}`);
  }
  only(keys: string[]): void {
    for (const k of Object.keys(this.value)) {
      if (!keys.includes(k)) throw new InputError(this.name(k), `unknown field; expected one of ${keys.join(', ')}`);
    }
  }
  has(key: string): boolean {
    return this.value[key] !== undefined;
  }
  child(key: string): Fields {
    return Fields.of(this.source, this.path ? `${this.path}.${key}` : key, this.value[key]);
  }
  string(key: string, fallback?: string): string {
    const v = this.value[key] ?? fallback;
    if (typeof v !== 'string' || v.length === 0) this.fail(key, 'a non-empty string');
    return v;
  }
  optionalString(key: string): string | undefined {
    return this.has(key) ? this.string(key) : undefined;
  }
  number(
    key: string,
    fallback?: number,
    check: (n: number) => boolean = () => true,
    expected = 'a finite number',
  ): number {
    const v = this.value[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || !check(v)) this.fail(key, expected);
    return v;
  }
  positiveInt(key: string, fallback?: number): number {
    return this.number(key, fallback, (n) => Number.isInteger(n) && n > 0, 'a positive integer');
  }
  boolean(key: string, fallback: boolean): boolean {
    const v = this.value[key] ?? fallback;
    if (typeof v !== 'boolean') this.fail(key, 'true or false');
    return v;
  }
  oneOf<T extends string>(key: string, options: readonly T[], fallback?: T): T {
    const v = this.value[key] ?? fallback;
    if (!options.includes(v as T)) this.fail(key, `one of ${options.join(', ')}`);
    return v as T;
  }
  numbers(
    key: string,
    length: number | null,
    check: (n: number) => boolean = () => true,
    expected = 'finite numbers',
  ): number[] {
    const v = this.value[key];
    if (
      !Array.isArray(v) ||
      (length !== null && v.length !== length) ||
      v.length === 0 ||
      !v.every((n) => typeof n === 'number' && Number.isFinite(n) && check(n))
    ) {
      this.fail(key, `${length === null ? 'an array of' : `an array of ${length}`} ${expected}`);
    }
    return v as number[];
  }
  range(key: string, fallback?: [number, number]): [number, number] {
    if (!this.has(key) && fallback) return fallback;
    const [lo, hi] = this.numbers(key, 2);
    if (!(lo! < hi!)) this.fail(key, '[lo, hi] with lo < hi');
    return [lo!, hi!];
  }
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  const text = JSON.stringify(v);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function modelRef(f: Fields, key: string): ModelRef {
  const v = f.value[key];
  if (typeof v === 'string') return { file: f.string(key) };
  const m = f.child(key);
  m.only(['file', 'input', 'output']);
  const ref: ModelRef = { file: m.string('file') };
  const input = m.optionalString('input');
  const output = m.optionalString('output');
  if (input !== undefined) ref.input = input;
  if (output !== undefined) ref.output = output;
  return ref;
}

function parsePrior(f: Fields): PriorManifest {
  f.only(['version', 'kind', 'type', 'name', 'denoiser', 'schedule', 'image', 'latent', 'clip']);
  const type = f.oneOf('type', ['diffusion', 'flow'] as const);
  const d = f.child('denoiser');
  d.only(['file', 'input', 'timestep', 'output', 'prediction', 'varianceChannels']);
  const prediction =
    type === 'diffusion'
      ? d.oneOf('prediction', ['epsilon', 'v', 'x0'] as const, 'epsilon')
      : d.oneOf('prediction', ['velocity'] as const, 'velocity');
  const denoiser: DenoiserRef = {
    file: d.string('file'),
    input: d.string('input', 'x'),
    timestep: d.string('timestep', 't'),
    output: d.string('output', type === 'diffusion' ? 'eps' : 'velocity'),
    prediction,
    varianceChannels: d.boolean('varianceChannels', false),
  };
  if (type === 'flow' && denoiser.varianceChannels)
    throw new InputError(d.name('varianceChannels'), 'flow priors have no variance channels');
  const i = f.child('image');
  i.only(['channels', 'height', 'width', 'range', 'resize']);
  const image: ImageSpec = {
    channels: i.positiveInt('channels'),
    height: i.positiveInt('height'),
    width: i.positiveInt('width'),
    range: i.range('range', [-1, 1]),
    resize: i.boolean('resize', false),
  };
  const manifest: PriorManifest = { version: 1, kind: 'prior', type, denoiser, image, clip: null };
  const name = f.optionalString('name');
  if (name !== undefined) manifest.name = name;
  if (type === 'diffusion') {
    if (f.has('schedule')) {
      const s = f.child('schedule');
      s.only(['type', 'betaStart', 'betaEnd', 'timesteps']);
      const betaStart = s.number('betaStart', DEFAULT_SCHEDULE.betaStart, (n) => n > 0 && n < 1, 'a number in (0, 1)');
      manifest.schedule = {
        type: s.oneOf('type', ['linear', 'scaled_linear', 'cosine'] as const, 'linear'),
        betaStart,
        betaEnd: s.number(
          'betaEnd',
          DEFAULT_SCHEDULE.betaEnd,
          (n) => n >= betaStart && n < 1,
          `a number in [betaStart, 1)`,
        ),
        timesteps: s.positiveInt('timesteps', DEFAULT_SCHEDULE.timesteps),
      };
    } else {
      manifest.schedule = { ...DEFAULT_SCHEDULE };
    }
  } else if (f.has('schedule')) {
    throw new InputError(f.name('schedule'), 'flow priors have no noise schedule (t runs from 0 = noise to 1 = data)');
  }
  if (f.has('latent')) {
    const l = f.child('latent');
    l.only(['decoder', 'encoder', 'scale', 'shape']);
    const latent: LatentSpec = {
      decoder: modelRef(l, 'decoder'),
      scale: l.number('scale', 1, (n) => n > 0, 'a positive number'),
      shape: l.numbers('shape', null, (n) => Number.isInteger(n) && n > 0, 'positive integers'),
    };
    if (l.has('encoder')) latent.encoder = modelRef(l, 'encoder');
    manifest.latent = latent;
  }
  manifest.clip = f.has('clip') ? f.range('clip') : manifest.latent ? null : image.range;
  return manifest;
}

function parseStep(f: Fields): PreprocessStep {
  const op = f.oneOf('op', ['rescale', 'resize', 'center_crop', 'normalize', 'repeat_channels', 'grayscale'] as const);
  const size = (key: string) =>
    f.numbers(key, 2, (n) => Number.isInteger(n) && n > 0, 'positive integers [height, width]') as [number, number];
  switch (op) {
    case 'rescale':
      f.only(['op', 'from', 'to']);
      return { op, from: f.range('from'), to: f.range('to') };
    case 'resize':
      f.only(['op', 'size', 'mode']);
      return { op, size: size('size'), mode: f.oneOf('mode', ['bilinear', 'bicubic'] as const, 'bilinear') };
    case 'center_crop':
      f.only(['op', 'size']);
      return { op, size: size('size') };
    case 'normalize': {
      f.only(['op', 'mean', 'std']);
      const mean = f.numbers('mean', null);
      const std = f.numbers('std', null, (n) => n > 0, 'positive numbers');
      if (mean.length !== std.length) f.fail('std', `${mean.length} values, one per mean`);
      return { op, mean, std };
    }
    case 'repeat_channels':
      f.only(['op', 'channels']);
      return { op, channels: f.positiveInt('channels', 3) };
    case 'grayscale':
      f.only(['op']);
      return { op };
  }
}

function parseExtractor(f: Fields): ExtractorManifest {
  f.only(['version', 'kind', 'name', 'model', 'preprocess', 'loss', 'metric']);
  const steps = f.value.preprocess ?? [];
  if (!Array.isArray(steps)) f.fail('preprocess', 'an array of steps');
  const preprocess = steps.map((_, j) => parseStep(Fields.of(f.source, `preprocess[${j}]`, steps[j])));
  const manifest: ExtractorManifest = {
    version: 1,
    kind: 'extractor',
    model: modelRef(f, 'model'),
    preprocess,
    loss: f.oneOf('loss', Object.keys(FIBER_LOSSES) as FiberLossName[], 'l2'),
    metric: f.oneOf('metric', Object.keys(FIBER_METRICS) as FiberMetricName[], 'squared_l2'),
  };
  const name = f.optionalString('name');
  if (name !== undefined) manifest.name = name;
  return manifest;
}

/** Validates a parsed manifest; `source` names the file in errors. */
export function parseBundleManifest(json: unknown, source = MANIFEST_FILE): BundleManifest {
  const f = Fields.of(source, '', json);
  if (f.value.version !== MANIFEST_VERSION) f.fail('version', `${MANIFEST_VERSION}`);
  const kind = f.oneOf('kind', ['prior', 'extractor'] as const);
  return kind === 'prior' ? parsePrior(f) : parseExtractor(f);
}

/** Reads and validates `<dir>/fiberscope.json`. */
export async function readBundleManifest(dir: string): Promise<BundleManifest> {
  const path = join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new InputError(dir, `expected a bundle folder with ${MANIFEST_FILE}: ${(cause as Error).message}`, { cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new InputError(path, `not valid JSON: ${(cause as Error).message}`, { cause });
  }
  return parseBundleManifest(json, path);
}

/** What the sampler needs to know of a prior. */
export function priorInfo(m: PriorManifest): PriorInfo {
  const imageShape = [m.image.channels, m.image.height, m.image.width];
  const info: PriorInfo = {
    kind: m.type,
    stateShape: m.latent ? m.latent.shape : imageShape,
    imageShape,
    imageRange: m.image.range,
    clip: m.clip,
    varianceChannels: m.denoiser.varianceChannels,
    latent: m.latent !== undefined,
  };
  if (m.schedule) info.schedule = new NoiseSchedule(m.schedule);
  return info;
}
