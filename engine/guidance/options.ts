/**
 * Sampler options in stages: a preset (METHOD §7, §5) → defaults → explicit overrides, validated
 * once with errors naming the option.
 */
import { InputError } from '../errors.ts';
import type { Respacing } from '../priors/schedule.ts';
import { respace, timestepGrid } from '../priors/schedule.ts';
import type { GammaAnchor } from './gamma.ts';
import { validateAnchors } from './gamma.ts';
import type { PriorInfo } from './objective.ts';
import type { AncestralVariance, DdimVariance } from './updates.ts';

export type UpdateRule =
  | { kind: 'ancestral'; variance: AncestralVariance; respacing: Respacing }
  | { kind: 'ddim'; variance: DdimVariance; eta: number }
  | { kind: 'euler' };

/**
 * `ndtm`: the method. `static-target`: y = φ(x₀) at every step. `no-denoiser-jacobian`: gradient
 * w.r.t. x̂₀ only, chained with ∂x̂₀/∂x′ = 1/√ᾱ_t (DPS/MPGD-style). `unguided`: γ ≡ 0, the prior alone.
 */
export const VARIANTS = ['ndtm', 'static-target', 'no-denoiser-jacobian', 'unguided'] as const;
export type Variant = (typeof VARIANTS)[number];

export interface SamplerOptions {
  /** n: reverse steps. */
  steps: number;
  /** N: Adam iterations on u per step. */
  innerSteps: number;
  /** u_lr, decayed linearly over the steps. */
  lr: number;
  /** w_T. */
  terminalWeight: number;
  gamma: GammaAnchor[];
  kappa: number;
  tau: number;
  update: UpdateRule;
  variant: Variant;
  /** `x0`: the last clamped estimate; `state`: the last state x. */
  output: 'x0' | 'state';
  /** Clamp range of x̂₀ overriding the prior's (e.g. ±12 for the tabular setting); null = the prior's. */
  clip: [number, number] | null;
  /** Run seed (unsigned 64-bit). */
  seed: bigint;
}

export const PRESET_NAMES = [
  'imagenet-dinov2',
  'imagenet-inception',
  'cue-conflict',
  'chexpert-classifier',
  'qwen-vision',
  'tabular',
  'flow',
] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

const a = (start: number, end: number, tStart: number, tEnd: number): GammaAnchor => ({ start, end, tStart, tEnd });
const DINOV2_GAMMA = [a(0, 0, 1000, 800), a(3, 3, 800, 600), a(1, 0.5, 600, 200), a(2, 10, 200, 0)];

type PresetOptions = Omit<SamplerOptions, 'seed' | 'clip'> & { clip?: [number, number] };

/** The authors' reference configurations (METHOD §7) and the exploratory flow setting (§5). */
export const PRESETS: Record<PresetName, PresetOptions> = {
  'imagenet-dinov2': {
    steps: 200,
    innerSteps: 5,
    lr: 2e-3,
    terminalWeight: 1,
    gamma: DINOV2_GAMMA,
    kappa: 0,
    tau: 0,
    update: { kind: 'ancestral', variance: 'learned_range', respacing: 'as-released' },
    variant: 'ndtm',
    output: 'x0',
  },
  'imagenet-inception': {
    steps: 200,
    innerSteps: 5,
    lr: 2e-3,
    terminalWeight: 1,
    gamma: [a(1, 3, 1000, 800), a(3, 3, 800, 600), a(3, 3, 600, 400), a(1, 1, 400, 200), a(3, 10, 200, 0)],
    kappa: 0,
    tau: 0,
    update: { kind: 'ancestral', variance: 'learned_range', respacing: 'as-released' },
    variant: 'ndtm',
    output: 'x0',
  },
  'cue-conflict': {
    steps: 200,
    innerSteps: 5,
    lr: 2e-3,
    terminalWeight: 1,
    gamma: DINOV2_GAMMA,
    kappa: 0,
    tau: 0,
    update: { kind: 'ancestral', variance: 'small', respacing: 'as-released' },
    variant: 'ndtm',
    output: 'x0',
  },
  'chexpert-classifier': {
    steps: 100,
    innerSteps: 4,
    lr: 2e-3,
    terminalWeight: 1,
    gamma: [a(0, 0, 1000, 500), a(0, 10, 500, 0)],
    kappa: 0,
    tau: 0,
    update: { kind: 'ddim', variance: 'large', eta: 0.5 },
    variant: 'ndtm',
    output: 'state',
  },
  'qwen-vision': {
    steps: 100,
    innerSteps: 7,
    lr: 2e-3,
    terminalWeight: 1,
    gamma: [a(0, 0, 1000, 600), a(10, 10, 600, 200), a(20, 20, 200, 0)],
    kappa: 1e-4,
    tau: 0,
    update: { kind: 'ddim', variance: 'large', eta: 0.25 },
    variant: 'ndtm',
    output: 'x0',
  },
  // The paper sweeps the late γ over {1, 2, 5, 10}; the preset takes 1, override `gamma` for the others.
  tabular: {
    steps: 200,
    innerSteps: 10,
    lr: 0.02,
    terminalWeight: 1,
    gamma: [a(0, 0, 1000, 500), a(1, 1, 500, 0)],
    kappa: 3e-4,
    tau: 0,
    update: { kind: 'ancestral', variance: 'small', respacing: 'as-released' },
    variant: 'static-target',
    output: 'x0',
    clip: [-12, 12],
  },
  // γ(t) = 5 for t > 0.6 else 2t, t ∈ [0, 1] (0 = noise); u_lr in the paper's 0.002–0.005 range.
  flow: {
    steps: 100,
    innerSteps: 2,
    lr: 3e-3,
    terminalWeight: 1,
    gamma: [a(5, 5, 1, 0.6), { start: 1.2, end: 0, tStart: 0.6, tEnd: 0, shape: 'linear' }],
    kappa: 0,
    tau: 0,
    update: { kind: 'euler' },
    variant: 'ndtm',
    output: 'x0',
  },
};

/** What a caller may pass: a preset name and any overrides. */
export type SamplerOptionsInput = Partial<Omit<SamplerOptions, 'seed'>> & {
  preset?: string;
  seed?: bigint | number | string;
};

const KNOWN_KEYS = new Set([
  'preset',
  'steps',
  'innerSteps',
  'lr',
  'terminalWeight',
  'gamma',
  'kappa',
  'tau',
  'update',
  'variant',
  'output',
  'clip',
  'seed',
]);

function finite(name: string, value: unknown, min: number, max = Infinity, integer = false): number {
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value < min ||
    value > max ||
    (integer && !Number.isInteger(value))
  ) {
    const kind = integer ? 'an integer' : 'a number';
    throw new InputError(name, `expected ${kind} in [${min}, ${max}], got ${String(value)}`);
  }
  return value;
}

function parseSeed(value: unknown): bigint {
  try {
    if (typeof value === 'bigint' || typeof value === 'number' || typeof value === 'string') {
      const s = BigInt(value);
      if (s >= 0n && s < 1n << 64n) return s;
    }
  } catch {
    // reported below
  }
  throw new InputError('seed', `expected an unsigned 64-bit integer, got ${String(value)}`);
}

function validateUpdate(update: unknown, prior: PriorInfo | undefined): UpdateRule {
  if (typeof update !== 'object' || update === null)
    throw new InputError('update', 'expected {kind: ancestral|ddim|euler, ...}');
  const u = update as Record<string, unknown>;
  const kind = u.kind;
  if (prior?.kind === 'flow' && kind !== 'euler')
    throw new InputError('update.kind', `a flow prior steps with euler, got ${String(kind)}`);
  if (prior?.kind === 'diffusion' && kind === 'euler')
    throw new InputError('update.kind', 'euler is for flow priors; use ancestral or ddim');
  if (kind === 'ancestral') {
    const variance = u.variance ?? 'small';
    if (variance !== 'small' && variance !== 'large' && variance !== 'learned_range') {
      throw new InputError('update.variance', `expected small, large or learned_range, got ${String(variance)}`);
    }
    if (variance === 'learned_range' && prior && !prior.varianceChannels) {
      throw new InputError('update.variance', 'learned_range needs a prior with variance channels; use small or large');
    }
    const respacing = u.respacing ?? 'as-released';
    if (respacing !== 'as-released' && respacing !== 'exact')
      throw new InputError('update.respacing', `expected as-released or exact, got ${String(respacing)}`);
    if (respacing === 'as-released' && prior?.schedule && prior.schedule.spec.type !== 'linear') {
      throw new InputError(
        'update.respacing',
        `as-released rescales a linear schedule; this prior declares ${prior.schedule.spec.type}, use exact`,
      );
    }
    return { kind, variance, respacing };
  }
  if (kind === 'ddim') {
    const variance = u.variance ?? 'small';
    if (variance !== 'small' && variance !== 'large')
      throw new InputError('update.variance', `expected small or large, got ${String(variance)}`);
    return { kind, variance, eta: finite('update.eta', u.eta ?? 0, 0, 1) };
  }
  if (kind === 'euler') return { kind };
  throw new InputError('update.kind', `expected ancestral, ddim or euler, got ${String(kind)}`);
}

/** Preset (default: imagenet-dinov2 for diffusion priors, flow for flow priors) → overrides → validated options. */
export function resolveSamplerOptions(input: SamplerOptionsInput = {}, prior?: PriorInfo): SamplerOptions {
  for (const key of Object.keys(input)) {
    if (!KNOWN_KEYS.has(key))
      throw new InputError(key, `unknown sampler option; expected one of ${[...KNOWN_KEYS].join(', ')}`);
  }
  const presetName = input.preset ?? (prior?.kind === 'flow' ? 'flow' : 'imagenet-dinov2');
  const preset = PRESETS[presetName as PresetName];
  if (!preset) throw new InputError('preset', `expected one of ${PRESET_NAMES.join(', ')}, got ${presetName}`);
  const merged = { ...preset, clip: preset.clip ?? null, seed: 0n as bigint | number | string, ...input };
  const maxSteps = prior?.schedule ? prior.schedule.timesteps : 100000;
  const variant = merged.variant;
  if (!VARIANTS.includes(variant))
    throw new InputError('variant', `expected one of ${VARIANTS.join(', ')}, got ${String(variant)}`);
  if (merged.output !== 'x0' && merged.output !== 'state')
    throw new InputError('output', `expected x0 or state, got ${String(merged.output)}`);
  const tau = finite('tau', merged.tau, 0);
  if (variant === 'no-denoiser-jacobian' && tau > 0) {
    throw new InputError('tau', 'the no-denoiser-jacobian variant has no gradient for the τ term; set tau to 0');
  }
  let clip: [number, number] | null = null;
  if (merged.clip !== null && merged.clip !== undefined) {
    const c = merged.clip as unknown;
    if (
      !Array.isArray(c) ||
      c.length !== 2 ||
      !c.every((v) => typeof v === 'number' && Number.isFinite(v)) ||
      !(c[0] < c[1])
    ) {
      throw new InputError('clip', `expected [lo, hi] with lo < hi, got ${JSON.stringify(c)}`);
    }
    clip = [c[0], c[1]];
  }
  const update = validateUpdate(merged.update, prior);
  const steps = finite('steps', merged.steps, 1, maxSteps, true);
  if (update.kind === 'ancestral' && prior?.schedule)
    respace(prior.schedule, timestepGrid(steps, maxSteps), update.respacing);
  return {
    steps,
    innerSteps: finite('innerSteps', merged.innerSteps, 0, 1000, true),
    lr: finite('lr', merged.lr, 0),
    terminalWeight: finite('terminalWeight', merged.terminalWeight, 0),
    gamma: validateAnchors(merged.gamma),
    kappa: finite('kappa', merged.kappa, 0),
    tau,
    update,
    variant,
    output: merged.output,
    clip,
    seed: parseSeed(merged.seed),
  };
}
