/**
 * The NDTM fiber sampler (METHOD §4, §5): a reverse diffusion (or flow) whose every step first
 * optimises a control u with Adam so that the denoised estimate at x′ = x + γu lands in the query's
 * fiber, then takes the prior's update from x′.
 */
import { InputError } from '../errors.ts';
import type { DrawOwner } from '../random/philox.ts';
import { gaussian } from '../random/philox.ts';
import type { WalkStep } from '../priors/schedule.ts';
import { respace, timestepGrid, walk } from '../priors/schedule.ts';
import { Adam, normalizePerSample } from './adam.ts';
import { gammaAt, learningRateAt } from './gamma.ts';
import { batchLoss } from './losses.ts';
import type { FiberObjective } from './objective.ts';
import { sizeOf } from './objective.ts';
import type { SamplerOptions } from './options.ts';
import {
  ancestralCoefficients,
  ancestralUpdate,
  clampInPlace,
  ddimCoefficients,
  ddimUpdate,
  eulerUpdate,
  flowEndpoint,
  tweedie,
} from './updates.ts';

/** One query image and which of its samples to draw (sample indices pick their random streams). */
export interface FiberQuery {
  imageId: string;
  /** One image in the prior's image range, imageShape. */
  image: Float32Array;
  sampleIndices: readonly number[];
}

/** Network evaluations per sample, counted as METHOD §4 counts them (one batched call = one per sample). */
export interface NfeCounts {
  denoiserForward: number;
  denoiserBackward: number;
  extractorForward: number;
  extractorBackward: number;
}

export interface FiberItem {
  imageId: string;
  sampleIndex: number;
  /** Index into the queries passed in. */
  query: number;
}

export interface FiberSamples {
  /** Row b of every per-sample array belongs to items[b]. */
  items: FiberItem[];
  /** [batch × image]: the last clamped estimate (output x0) or the last state, decoded for latent priors. */
  samples: Float32Array;
  /** Per item: every value of the sample is finite (a NaN/Inf sample becomes an error row upstream). */
  finite: boolean[];
  /** φ of the samples, [batch × featureDim]. */
  features: Float32Array;
  /** φ of each item's query, [batch × featureDim]. */
  queryFeatures: Float32Array;
  /** w_T·ℓ(φ(sample), φ(query)): the optimised terminal cost evaluated on the final sample. */
  cost: Float64Array;
  /** The last inner-loop cost (incl. κ and τ terms); NaN when no guided step ran. */
  lastInnerCost: Float64Array;
  nfe: NfeCounts;
  /** What produced the samples, for output rows. */
  method: {
    variant: SamplerOptions['variant'];
    update: string;
    steps: number;
    innerSteps: number;
    output: SamplerOptions['output'];
    seed: string;
  };
}

/** The sampler's arrays after one reverse step, [batch × state] each (fresh arrays every step). */
export interface StepState {
  /** The new state x_s (x for the next step). */
  x: Float32Array;
  /** The clamped estimate x̂₀ (x̂₁ for flows) at x′ that the update used. */
  x0hat: Float32Array;
}

export interface SampleFiberHooks {
  /** Called after every reverse step with (steps done, steps, the arrays it produced). */
  onStep?: (done: number, steps: number, state: StepState) => void | Promise<void>;
  signal?: AbortSignal;
}

/** Describes the update rule as the output rows name it. */
export function describeUpdate(update: SamplerOptions['update']): string {
  if (update.kind === 'ancestral') return `ancestral/${update.variance}/${update.respacing}`;
  if (update.kind === 'ddim') return `ddim/${update.variance}/eta=${update.eta}`;
  return 'euler';
}

/**
 * The sampler's standard normal draws of one stream at loop index `step`, [owners × size]: x_T at
 * step 0, the update noise z and the target noise ξ at every step i.
 */
export function drawNoise(
  owners: readonly DrawOwner[],
  stream: 'x_T' | 'update' | 'target',
  step: number,
  size: number,
): Float32Array {
  const out = new Float32Array(owners.length * size);
  owners.forEach((owner, b) => gaussian(owner, stream, step, out, b * size, size));
  return out;
}

function axpy(x: Float32Array, g: number, u: Float32Array): Float32Array {
  if (g === 0) return x;
  const out = new Float32Array(x.length);
  for (let j = 0; j < x.length; j++) out[j] = x[j]! + g * u[j]!;
  return out;
}

export async function sampleFiber(
  objective: FiberObjective,
  queries: readonly FiberQuery[],
  options: SamplerOptions,
  hooks: SampleFiberHooks = {},
): Promise<FiberSamples> {
  const { prior } = objective;
  const D = sizeOf(prior.stateShape);
  const imageSize = sizeOf(prior.imageShape);
  const items: FiberItem[] = [];
  queries.forEach((q, query) => {
    if (q.image.length !== imageSize) {
      throw new InputError(
        `query ${q.imageId}`,
        `expected ${imageSize} values (${prior.imageShape.join('×')}), got ${q.image.length}`,
      );
    }
    for (const sampleIndex of q.sampleIndices) items.push({ imageId: q.imageId, sampleIndex, query });
  });
  const B = items.length;
  if (B === 0) throw new InputError('queries', 'expected at least one sample to draw');
  if ((options.update.kind === 'euler') !== (prior.kind === 'flow')) {
    throw new InputError('update.kind', `${options.update.kind} does not fit a ${prior.kind} prior`);
  }
  if (options.variant === 'no-denoiser-jacobian' && !objective.costGradX0) {
    throw new InputError('variant', 'this objective offers no x̂₀-only gradient (no-denoiser-jacobian)');
  }
  if (options.update.kind === 'ancestral' && options.update.variance === 'learned_range' && !prior.varianceChannels) {
    throw new InputError('update.variance', 'learned_range needs a prior with variance channels');
  }
  const owners: DrawOwner[] = items.map((it) => ({
    seed: options.seed,
    imageId: it.imageId,
    sampleIndex: it.sampleIndex,
  }));
  const nfe: NfeCounts = { denoiserForward: 0, denoiserBackward: 0, extractorForward: 0, extractorBackward: 0 };
  const n = options.steps;
  const clip = options.clip ?? prior.clip;
  const perTimestepTarget = options.variant !== 'static-target';

  const queryImages = new Float32Array(B * imageSize);
  items.forEach((it, b) => queryImages.set(queries[it.query]!.image, b * imageSize));
  const queryFeatures = await objective.imageFeatures(queryImages, B);
  nfe.extractorForward += 1;
  let queryStates: Float32Array | null = null;
  if (perTimestepTarget && options.variant !== 'unguided') {
    if (prior.latent && !objective.encode)
      throw new InputError('variant', 'a per-timestep target on a latent prior needs its encoder');
    queryStates = prior.latent ? await objective.encode!(queryImages, B) : queryImages;
  }

  let steps: WalkStep[];
  const schedule = prior.schedule;
  if (prior.kind === 'diffusion') {
    if (!schedule) throw new InputError('prior.schedule', 'a diffusion prior needs a noise schedule');
    steps = walk(timestepGrid(n, schedule.timesteps));
  } else {
    steps = Array.from({ length: n }, (_, i) => ({ i, k: i, t: i / n, s: (i + 1) / n }));
  }
  const chain =
    options.update.kind === 'ancestral' && schedule
      ? respace(schedule, timestepGrid(n, schedule.timesteps), options.update.respacing)
      : null;
  const alphaBar = (t: number) => (schedule ? schedule.alphaBar(t) : Number.NaN);
  /** x̂₀ (x̂₁ for flows) from a prediction at x_t, unclamped. */
  const estimate = (xt: Float32Array, pred: Float32Array, t: number) =>
    prior.kind === 'diffusion' ? tweedie(xt, pred, alphaBar(t)) : flowEndpoint(xt, pred, t);

  let x: Float32Array = drawNoise(owners, 'x_T', 0, D);
  let x0h: Float32Array = new Float32Array(B * D);
  const lastInnerCost = new Float64Array(B).fill(Number.NaN);

  for (const { i, k, t, s } of steps) {
    if (hooks.signal?.aborted) throw hooks.signal.reason;
    const g = options.variant === 'unguided' ? 0 : gammaAt(options.gamma, t);
    const guided = g !== 0 && options.innerSteps > 0;
    const u = new Float32Array(B * D);
    if (guided) {
      let y = queryFeatures;
      if (queryStates) {
        // What φ says of the query denoised from this noise level; no gradient.
        const xi = drawNoise(owners, 'target', i, D);
        const xq = new Float32Array(B * D);
        if (prior.kind === 'diffusion') {
          const a = Math.sqrt(alphaBar(t));
          const sn = Math.sqrt(1 - alphaBar(t));
          for (let j = 0; j < xq.length; j++) xq[j] = a * queryStates[j]! + sn * xi[j]!;
        } else {
          for (let j = 0; j < xq.length; j++) xq[j] = t * queryStates[j]! + (1 - t) * xi[j]!;
        }
        const pq = await objective.predict(xq, t, B);
        y = await objective.features(clampInPlace(estimate(xq, pq.out, t), clip), B, clip);
        nfe.denoiserForward += 1;
        nfe.extractorForward += 1;
      }
      const adam = new Adam(B * D, learningRateAt(options.lr, i, n));
      let epsRef: Float32Array | null = null;
      if (options.tau > 0) {
        epsRef = (await objective.predict(x, t, B)).out;
        nfe.denoiserForward += 1;
      }
      const kappaTerm = options.kappa * g ** 4;
      for (let r = 0; r < options.innerSteps; r++) {
        let cost: Float64Array;
        let grad: Float32Array;
        if (options.variant === 'no-denoiser-jacobian') {
          const xp = axpy(x, g, u);
          const p = await objective.predict(xp, t, B);
          const res = await objective.costGradX0!(estimate(xp, p.out, t), y, B, options.terminalWeight, clip);
          nfe.denoiserForward += 1;
          nfe.extractorForward += 1;
          nfe.extractorBackward += 1;
          // ∂x̂₀/∂x′ taken as 1/√ᾱ_t (1 for a flow's x̂₁), ∂x′/∂u = γ.
          const chainFactor = g * (prior.kind === 'diffusion' ? 1 / Math.sqrt(alphaBar(t)) : 1);
          grad = res.gradX0.map((v) => v * chainFactor);
          cost = res.cost;
        } else {
          const res = await objective.costGrad({
            x,
            u,
            gamma: g,
            t,
            y,
            batch: B,
            weight: options.terminalWeight,
            tau: options.tau,
            epsRef,
            clip,
          });
          nfe.denoiserForward += 1;
          nfe.denoiserBackward += 1;
          nfe.extractorForward += 1;
          nfe.extractorBackward += 1;
          grad = res.gradU;
          cost = Float64Array.from(res.cost);
        }
        if (kappaTerm > 0) {
          for (let b = 0; b < B; b++) {
            let sq = 0;
            for (let j = b * D; j < (b + 1) * D; j++) {
              sq += u[j]! * u[j]!;
              grad[j] = grad[j]! + 2 * kappaTerm * u[j]!;
            }
            cost[b] = cost[b]! + kappaTerm * sq;
          }
        }
        lastInnerCost.set(cost);
        normalizePerSample(grad, B);
        adam.step(u, grad);
      }
    }
    const xp = axpy(x, g, u);
    const p = await objective.predict(xp, t, B);
    nfe.denoiserForward += 1;
    x0h = clampInPlace(estimate(xp, p.out, t), clip);
    const update = options.update;
    if (update.kind === 'ancestral') {
      const z = t > 0 ? drawNoise(owners, 'update', i, D) : null;
      x = ancestralUpdate(x0h, xp, z, ancestralCoefficients(chain!, k), update.variance, p.variance);
    } else if (update.kind === 'ddim') {
      const c = ddimCoefficients(alphaBar(t), alphaBar(s), update.eta, update.variance);
      const z = c.c1 > 0 ? drawNoise(owners, 'update', i, D) : null;
      x = ddimUpdate(x0h, p.out, z, alphaBar(s), c);
    } else {
      x = eulerUpdate(xp, p.out, 1 / n);
    }
    await hooks.onStep?.(i + 1, n, { x, x0hat: x0h });
  }

  const out = options.output === 'x0' ? x0h : x;
  const samples = prior.latent ? await objective.decode!(out, B) : out;
  const features = await objective.imageFeatures(samples, B);
  nfe.extractorForward += 1;
  const cost = batchLoss(objective.loss, features, queryFeatures, B).map((v) => v * options.terminalWeight);
  const size = samples.length / B;
  const finite = items.map((_, b) => samples.subarray(b * size, (b + 1) * size).every(Number.isFinite));
  return {
    items,
    samples,
    finite,
    features,
    queryFeatures,
    cost,
    lastInnerCost,
    nfe,
    method: {
      variant: options.variant,
      update: describeUpdate(options.update),
      steps: n,
      innerSteps: options.innerSteps,
      output: options.output,
      seed: options.seed.toString(),
    },
  };
}
