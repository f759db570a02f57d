/**
 * Probes: RMS distances of a sample to named transforms of the query. A sample that sits closer to
 * a transform of the query than to the query itself shows what the model does not see (a mirrored
 * image in the fiber means the model ignores left/right). Declarative: one table entry per probe.
 */
import { InputError } from '../errors.ts';
import { rmsDistance } from './fiber.ts';

/** Channels, height, width. */
export type ChwShape = readonly [number, number, number];

export interface Probe {
  describe: string;
  /** Whether the transform is defined for this image shape. */
  applies(shape: ChwShape): boolean;
  apply(image: Float32Array, shape: ChwShape, range: readonly [number, number]): Float32Array;
}

/** out[c, y, x] = image[c, f(y, x)] for a source-coordinate map f. */
function remap(
  image: Float32Array,
  [c, h, w]: ChwShape,
  src: (y: number, x: number) => [number, number],
  outH = h,
  outW = w,
): Float32Array {
  const out = new Float32Array(c * outH * outW);
  for (let ch = 0; ch < c; ch++)
    for (let y = 0; y < outH; y++)
      for (let x = 0; x < outW; x++) {
        const [sy, sx] = src(y, x);
        out[(ch * outH + y) * outW + x] = image[(ch * h + sy) * w + sx]!;
      }
  return out;
}

/** Separable Gaussian blur, σ = 1 px, 5 taps, edges replicated. */
function blur(image: Float32Array, [c, h, w]: ChwShape): Float32Array {
  const taps = [-2, -1, 0, 1, 2].map((d) => Math.exp(-(d * d) / 2));
  const norm = taps.reduce((a, b) => a + b);
  const kernel = taps.map((v) => v / norm);
  const pass = (src: Float32Array, horizontal: boolean) => {
    const out = new Float32Array(src.length);
    for (let ch = 0; ch < c; ch++)
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) {
          let acc = 0;
          for (let d = -2; d <= 2; d++) {
            const sy = horizontal ? y : Math.min(h - 1, Math.max(0, y + d));
            const sx = horizontal ? Math.min(w - 1, Math.max(0, x + d)) : x;
            acc += kernel[d + 2]! * src[(ch * h + sy) * w + sx]!;
          }
          out[(ch * h + y) * w + x] = acc;
        }
    return out;
  };
  return pass(pass(image, true), false);
}

const clampIndex = (v: number, n: number) => Math.min(n - 1, Math.max(0, v));

/** A shift by 1/8 of the size with replicated edges. */
function shift(dy: number, dx: number): Probe {
  return {
    describe: `translate by (${dy}, ${dx})/8 of the size, edges replicated`,
    applies: ([, h, w]) => h >= 8 && w >= 8,
    apply: (img, shape) => {
      const [, h, w] = shape;
      const oy = Math.round((dy * h) / 8);
      const ox = Math.round((dx * w) / 8);
      return remap(img, shape, (y, x) => [clampIndex(y - oy, h), clampIndex(x - ox, w)]);
    },
  };
}

export const PROBES = {
  hflip: {
    describe: 'mirror left/right',
    applies: () => true,
    apply: (img, s) => remap(img, s, (y, x) => [y, s[2] - 1 - x]),
  },
  vflip: {
    describe: 'mirror top/bottom',
    applies: () => true,
    apply: (img, s) => remap(img, s, (y, x) => [s[1] - 1 - y, x]),
  },
  rot90: {
    describe: 'rotate 90° counter-clockwise (square images)',
    applies: ([, h, w]) => h === w,
    apply: (img, s) => remap(img, s, (y, x) => [x, s[2] - 1 - y]),
  },
  rot180: {
    describe: 'rotate 180°',
    applies: ([, h, w]) => h === w,
    apply: (img, s) => remap(img, s, (y, x) => [s[1] - 1 - y, s[2] - 1 - x]),
  },
  rot270: {
    describe: 'rotate 90° clockwise (square images)',
    applies: ([, h, w]) => h === w,
    apply: (img, s) => remap(img, s, (y, x) => [s[1] - 1 - x, y]),
  },
  grayscale: {
    describe: 'ITU-R 601 luma in every channel (colour images)',
    applies: ([c]) => c === 3,
    apply: (img, [c, h, w]) => {
      const hw = h * w;
      const out = new Float32Array(c * hw);
      for (let p = 0; p < hw; p++) {
        const l = 0.299 * img[p]! + 0.587 * img[hw + p]! + 0.114 * img[2 * hw + p]!;
        out[p] = out[hw + p] = out[2 * hw + p] = l;
      }
      return out;
    },
  },
  invert: {
    describe: 'invert intensities within the range',
    applies: () => true,
    apply: (img, _s, [lo, hi]) => img.map((v) => lo + hi - v),
  },
  blur: {
    describe: 'Gaussian blur, σ = 1 px',
    applies: ([, h, w]) => h >= 3 && w >= 3,
    apply: (img, s) => blur(img, s),
  },
  shift_right: shift(0, 1),
  shift_down: shift(1, 0),
} satisfies Record<string, Probe>;

export type ProbeName = keyof typeof PROBES;
export const PROBE_NAMES = Object.keys(PROBES) as ProbeName[];

export function validateProbes(names: readonly string[], input = 'probes'): ProbeName[] {
  for (const n of names) {
    if (!(n in PROBES)) throw new InputError(input, `unknown probe ${n}; expected some of ${PROBE_NAMES.join(', ')}`);
  }
  return names as ProbeName[];
}

/** The transformed queries, computed once per query; probes that do not apply to the shape are left out. */
export function probeTargets(
  query: Float32Array,
  shape: ChwShape,
  range: readonly [number, number],
  names: readonly ProbeName[] = PROBE_NAMES,
): Map<ProbeName, Float32Array> {
  if (query.length !== shape[0] * shape[1] * shape[2])
    throw new InputError('query', `expected ${shape.join('×')} values, got ${query.length}`);
  const out = new Map<ProbeName, Float32Array>();
  for (const n of names) {
    const p: Probe = PROBES[n];
    if (p.applies(shape)) out.set(n, p.apply(query, shape, range));
  }
  return out;
}

export interface ProbeResult {
  /** RMS distance of the sample to each applicable probe. */
  distances: Map<ProbeName, number>;
  /** RMS distance of the sample to the query itself. */
  pixelDistance: number;
  /** The closest probe, or `none` when the untransformed query is at least as close. */
  nearest: ProbeName | 'none';
}

export function probeSample(
  sample: Float32Array,
  query: Float32Array,
  targets: Map<ProbeName, Float32Array>,
): ProbeResult {
  const pixelDistance = rmsDistance(sample, query);
  const distances = new Map<ProbeName, number>();
  let nearest: ProbeName | 'none' = 'none';
  let best = pixelDistance;
  for (const [name, target] of targets) {
    const d = rmsDistance(sample, target);
    distances.set(name, d);
    if (d < best) {
      best = d;
      nearest = name;
    }
  }
  return { distances, pixelDistance, nearest };
}

/**
 * Per-run invariance profile: the fraction of samples whose nearest probe is each name, for every
 * configured probe and `none` (zero rates included, so runs compare column by column).
 */
export function probeFiringRates(
  nearest: readonly string[],
  names: readonly string[] = PROBE_NAMES,
): Map<string, number> {
  const rates = new Map<string, number>([...names, 'none'].map((n) => [n, 0]));
  for (const n of nearest) rates.set(n, (rates.get(n) ?? 0) + 1 / nearest.length);
  return rates;
}
