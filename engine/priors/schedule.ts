/**
 * Diffusion noise schedules and the timestep grid (METHOD §3). Everything is float64, as the
 * reference implementations compute schedules in double precision.
 */
import { InputError } from '../errors.ts';

export type ScheduleType = 'linear' | 'scaled_linear' | 'cosine';

/** A prior's declared noise schedule (bundle field `schedule`). */
export interface ScheduleSpec {
  type: ScheduleType;
  betaStart: number;
  betaEnd: number;
  timesteps: number;
}

export const DEFAULT_SCHEDULE: ScheduleSpec = { type: 'linear', betaStart: 1e-4, betaEnd: 0.02, timesteps: 1000 };

/** n evenly spaced values from a to b inclusive, like numpy.linspace. */
export function linspace(a: number, b: number, n: number): Float64Array {
  const out = new Float64Array(n);
  if (n === 1) {
    out[0] = a;
    return out;
  }
  const step = (b - a) / (n - 1);
  for (let i = 0; i < n; i++) out[i] = a + i * step;
  out[n - 1] = b;
  return out;
}

/** β_0..β_{T−1} of a declared schedule. */
export function betas(spec: ScheduleSpec): Float64Array {
  const T = spec.timesteps;
  if (!Number.isInteger(T) || T < 1)
    throw new InputError('schedule.timesteps', `expected a positive integer, got ${T}`);
  switch (spec.type) {
    case 'linear':
      return linspace(spec.betaStart, spec.betaEnd, T);
    case 'scaled_linear':
      return linspace(Math.sqrt(spec.betaStart), Math.sqrt(spec.betaEnd), T).map((b) => b * b);
    case 'cosine': {
      // Nichol & Dhariwal's cosine ᾱ with offset s = 0.008, β capped at 0.999.
      const f = (t: number) => Math.cos(((t / T + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
      const out = new Float64Array(T);
      for (let i = 0; i < T; i++) out[i] = Math.min(1 - f(i + 1) / f(i), 0.999);
      return out;
    }
    default:
      throw new InputError('schedule.type', `expected linear, scaled_linear or cosine, got ${String(spec.type)}`);
  }
}

/** Cumulative products ᾱ_t = Π_{j≤t} (1 − β_j). */
export function cumprodAlphas(beta: Float64Array): Float64Array {
  const out = new Float64Array(beta.length);
  let acc = 1;
  for (let i = 0; i < beta.length; i++) {
    acc *= 1 - beta[i]!;
    out[i] = acc;
  }
  return out;
}

/** A schedule with padded indexing: alphaBar(−1) = 1. */
export class NoiseSchedule {
  readonly spec: ScheduleSpec;
  readonly betas: Float64Array;
  readonly alphasCumprod: Float64Array;
  constructor(spec: ScheduleSpec = DEFAULT_SCHEDULE) {
    this.spec = spec;
    this.betas = betas(spec);
    this.alphasCumprod = cumprodAlphas(this.betas);
  }
  get timesteps(): number {
    return this.spec.timesteps;
  }
  alphaBar(t: number): number {
    if (t === -1) return 1;
    const a = this.alphasCumprod[t];
    if (a === undefined || !Number.isInteger(t))
      throw new RangeError(`timestep ${t} outside -1..${this.timesteps - 1}`);
    return a;
  }
}

/** ts = [⌊i·T/n⌋ for i = 0..n−1]. */
export function timestepGrid(steps: number, timesteps: number): number[] {
  if (!Number.isInteger(steps) || steps < 1 || steps > timesteps) {
    throw new InputError('steps', `expected an integer in 1..${timesteps}, got ${steps}`);
  }
  return Array.from({ length: steps }, (_, i) => Math.floor((i * timesteps) / steps));
}

/** One step of the backward walk: loop index i (0 = noisiest), grid index k, t = ts[k], s = ts[k−1] or −1. */
export interface WalkStep {
  i: number;
  k: number;
  t: number;
  s: number;
}

export function walk(grid: readonly number[]): WalkStep[] {
  const n = grid.length;
  return Array.from({ length: n }, (_, i) => {
    const k = n - 1 - i;
    return { i, k, t: grid[k]!, s: k > 0 ? grid[k - 1]! : -1 };
  });
}

/**
 * How ancestral steps on a coarse grid get their β′:
 * `as-released` rescales the linear schedule to n steps (β′ = linspace(r·β_start, r·β_end, n), r = T/n)
 * as the authors' released code does; `exact` derives β′_k = 1 − ᾱ(ts[k])/ᾱ(ts[k−1]) from the prior's schedule.
 * In both the network is fed the original t and Tweedie uses the prior's ᾱ(t).
 */
export type Respacing = 'as-released' | 'exact';

/** β′ and ᾱ′ indexed by grid position k, with ᾱ′(−1) = 1. */
export interface RespacedSchedule {
  respacing: Respacing;
  betas: Float64Array;
  alphasCumprod: Float64Array;
}

export function respace(schedule: NoiseSchedule, grid: readonly number[], respacing: Respacing): RespacedSchedule {
  const n = grid.length;
  let beta: Float64Array;
  if (respacing === 'as-released') {
    if (schedule.spec.type !== 'linear') {
      throw new InputError(
        'update.respacing',
        `as-released rescales a linear schedule; this prior declares ${schedule.spec.type}, use exact`,
      );
    }
    const r = schedule.timesteps / n;
    if (r * schedule.spec.betaEnd >= 1) {
      const least = Math.floor(schedule.timesteps * schedule.spec.betaEnd) + 1;
      throw new InputError(
        'steps',
        `as-released respacing needs β′ = ${r.toFixed(2)}·${schedule.spec.betaEnd} < 1, i.e. at least ${least} steps; got ${n} (or use exact respacing)`,
      );
    }
    beta = linspace(r * schedule.spec.betaStart, r * schedule.spec.betaEnd, n);
  } else if (respacing === 'exact') {
    beta = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      beta[k] = 1 - schedule.alphaBar(grid[k]!) / schedule.alphaBar(k > 0 ? grid[k - 1]! : -1);
    }
  } else {
    throw new InputError('update.respacing', `expected as-released or exact, got ${String(respacing)}`);
  }
  return { respacing, betas: beta, alphasCumprod: cumprodAlphas(beta) };
}
