import type { Argv } from 'yargs';
import { InputError } from '../engine/errors.ts';
import { envDefaults } from './env.ts';
import type { PriorInfo } from '../engine/guidance/objective.ts';
import { PRESETS, PRESET_NAMES, VARIANTS, resolveSamplerOptions } from '../engine/guidance/options.ts';
import type { PresetName, SamplerOptions, SamplerOptionsInput } from '../engine/guidance/options.ts';
import { PROBE_NAMES, validateProbes } from '../engine/metrics/probes.ts';
import type { ProbeName } from '../engine/metrics/probes.ts';

/** Flags shared by `sample` and `audit`: every knob of METHOD.md, on top of a preset. */
export function samplerFlags(y: Argv): Argv {
  return y
    .option('preset', { type: 'string', choices: [...PRESET_NAMES], describe: 'Start from a reference configuration (METHOD §7); default imagenet-dinov2 (flow for flow priors)', group: 'Sampler:' })
    .option('steps', { type: 'number', describe: 'n: reverse diffusion steps', group: 'Sampler:' })
    .option('inner-steps', { type: 'number', describe: 'N: Adam iterations on the control per step', group: 'Sampler:' })
    .option('lr', { type: 'number', describe: 'u_lr, decayed linearly over the steps', group: 'Sampler:' })
    .option('weight', { type: 'number', describe: 'w_T, weight of the fiber loss', group: 'Sampler:' })
    .option('gamma', { type: 'string', describe: "γ anchors as JSON '[[start,end,t_start,t_end],...]'", group: 'Sampler:' })
    .option('kappa', { type: 'number', describe: 'κ: control-energy penalty κγ⁴|u|²', group: 'Sampler:' })
    .option('tau', { type: 'number', describe: 'τ: penalty on the change of ε', group: 'Sampler:' })
    .option('update', { type: 'string', choices: ['ddim', 'ancestral', 'euler'], describe: 'Update rule of the reverse step', group: 'Sampler:' })
    .option('variance', { type: 'string', choices: ['small', 'large', 'learned_range'], describe: 'Variance type of the update', group: 'Sampler:' })
    .option('eta', { type: 'number', describe: 'DDIM η', group: 'Sampler:' })
    .option('respacing', { type: 'string', choices: ['as-released', 'exact'], describe: 'Ancestral schedule on the n steps', group: 'Sampler:' })
    .option('target', { type: 'string', choices: ['per-timestep', 'static'], describe: 'Target features: of the noised-and-denoised query per step (default), or φ(x₀) throughout', group: 'Sampler:' })
    .option('variant', { type: 'string', choices: [...VARIANTS], describe: 'Guidance variant (named in every output row)', group: 'Sampler:' })
    .option('output', { type: 'string', choices: ['x0', 'state'], describe: 'Return the last Tweedie estimate or the last state', group: 'Sampler:' })
    .option('clip', { type: 'string', describe: "Clamp range of x̂₀ as JSON '[lo,hi]' (default: the prior's)", group: 'Sampler:' })
    .option('seed', { type: 'string', default: '0', describe: 'Run seed (uint64); a sample depends on (seed, image id, sample index) only', group: 'Sampler:' })
    .option('k', { type: 'number', default: 4, describe: 'Samples per query image', group: 'Sampler:' })
    .option('probes', { type: 'string', default: PROBE_NAMES.join(','), describe: 'Comma-separated probe transforms of the query', group: 'Sampler:' })
    .option('provider', { type: 'string', choices: ['cpu', 'cuda', 'webgpu'], default: envDefaults.provider(), describe: 'ONNX Runtime execution provider (env FIBERSCOPE_PROVIDER)', group: 'Sampler:' });
}

export interface SamplerArgs {
  preset?: string;
  steps?: number;
  innerSteps?: number;
  lr?: number;
  weight?: number;
  gamma?: string;
  kappa?: number;
  tau?: number;
  update?: string;
  variance?: string;
  eta?: number;
  respacing?: string;
  target?: string;
  variant?: string;
  output?: string;
  clip?: string;
  seed?: string;
  k?: number;
  probes?: string;
  provider?: string;
}

function parseJson(flag: string, text: string, expected: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new InputError(`--${flag}`, `expected ${expected}, got '${text}'`, { cause: err });
  }
}

/** Flags → sampler options: preset, then the flags given, validated once (errors name the flag). */
export function samplerOptionsFromArgs(args: SamplerArgs, prior?: PriorInfo): SamplerOptions {
  const input: SamplerOptionsInput = {};
  if (args.preset !== undefined) input.preset = args.preset;
  if (args.steps !== undefined) input.steps = args.steps;
  if (args.innerSteps !== undefined) input.innerSteps = args.innerSteps;
  if (args.lr !== undefined) input.lr = args.lr;
  if (args.weight !== undefined) input.terminalWeight = args.weight;
  if (args.kappa !== undefined) input.kappa = args.kappa;
  if (args.tau !== undefined) input.tau = args.tau;
  if (args.output !== undefined) input.output = args.output as SamplerOptions['output'];
  if (args.seed !== undefined) input.seed = args.seed;
  if (args.gamma !== undefined) {
    const raw = parseJson('gamma', args.gamma, "'[[start,end,t_start,t_end],...]'");
    if (!Array.isArray(raw) || !raw.every((a) => Array.isArray(a) && a.length === 4)) {
      throw new InputError('--gamma', `expected a list of [start,end,t_start,t_end] anchors, got '${args.gamma}'`);
    }
    input.gamma = (raw as number[][]).map(([start, end, tStart, tEnd]) => ({ start: start!, end: end!, tStart: tStart!, tEnd: tEnd! }));
  }
  if (args.clip !== undefined) input.clip = parseJson('clip', args.clip, "'[lo,hi]'") as [number, number];
  if (args.variant !== undefined && args.target === 'static' && args.variant !== 'static-target') {
    throw new InputError('--target', `--target static is the static-target variant; it contradicts --variant ${args.variant}`);
  }
  if (args.variant !== undefined) input.variant = args.variant as SamplerOptions['variant'];
  else if (args.target === 'static') input.variant = 'static-target';
  if (args.update !== undefined || args.variance !== undefined || args.eta !== undefined || args.respacing !== undefined) {
    const presetName = (args.preset ?? (prior?.kind === 'flow' ? 'flow' : 'imagenet-dinov2')) as PresetName;
    const base = PRESETS[presetName]?.update ?? { kind: 'ddim' };
    const kind = args.update ?? base.kind;
    const update: Record<string, unknown> = kind === base.kind ? { ...base } : { kind };
    if (args.variance !== undefined) update.variance = args.variance;
    if (args.eta !== undefined) update.eta = args.eta;
    if (args.respacing !== undefined) update.respacing = args.respacing;
    input.update = update as unknown as SamplerOptions['update'];
  }
  return resolveSamplerOptions(input, prior);
}

export function probesFromArgs(args: SamplerArgs): ProbeName[] {
  const names = (args.probes ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  return validateProbes(names, '--probes');
}

export function samplesPerImage(args: SamplerArgs): number {
  const k = args.k ?? 4;
  if (!Number.isInteger(k) || k < 1 || k > 1024) throw new InputError('--k', `expected an integer in 1..1024, got ${k}`);
  return k;
}
