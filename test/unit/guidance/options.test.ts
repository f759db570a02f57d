import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PRESET_NAMES, PRESETS, resolveSamplerOptions } from '../../../engine/guidance/options.ts';
import { InputError } from '../../../engine/errors.ts';
import { NoiseSchedule } from '../../../engine/priors/schedule.ts';
import type { PriorInfo } from '../../../engine/guidance/objective.ts';

const pixelPrior = (varianceChannels: boolean): PriorInfo => ({
  kind: 'diffusion',
  schedule: new NoiseSchedule(),
  stateShape: [3, 8, 8],
  imageShape: [3, 8, 8],
  imageRange: [-1, 1],
  clip: [-1, 1],
  varianceChannels,
  latent: false,
});

test('presets mirror METHOD §7', () => {
  const d = PRESETS['imagenet-dinov2'];
  assert.deepEqual([d.steps, d.innerSteps, d.lr, d.terminalWeight, d.kappa], [200, 5, 2e-3, 1, 0]);
  assert.deepEqual(
    d.gamma.map((a) => [a.start, a.end, a.tStart, a.tEnd]),
    [
      [0, 0, 1000, 800],
      [3, 3, 800, 600],
      [1, 0.5, 600, 200],
      [2, 10, 200, 0],
    ],
  );
  assert.deepEqual(d.update, { kind: 'ancestral', variance: 'learned_range', respacing: 'as-released' });
  const c = PRESETS['chexpert-classifier'];
  assert.deepEqual(
    [c.steps, c.innerSteps, c.output, c.update],
    [100, 4, 'state', { kind: 'ddim', variance: 'large', eta: 0.5 }],
  );
  const q = PRESETS['qwen-vision'];
  assert.deepEqual([q.innerSteps, q.kappa, q.update], [7, 1e-4, { kind: 'ddim', variance: 'large', eta: 0.25 }]);
  const t = PRESETS.tabular;
  assert.deepEqual([t.innerSteps, t.lr, t.kappa, t.variant, t.clip], [10, 0.02, 3e-4, 'static-target', [-12, 12]]);
  assert.equal(PRESETS['cue-conflict'].update.kind === 'ancestral' && PRESETS['cue-conflict'].update.variance, 'small');
  assert.equal(PRESETS['imagenet-inception'].gamma.length, 5);
  assert.equal(PRESET_NAMES.length, Object.keys(PRESETS).length);
});

test('resolver: preset, then explicit overrides', () => {
  const o = resolveSamplerOptions(
    { preset: 'qwen-vision', steps: 50, seed: '18446744073709551615' },
    pixelPrior(false),
  );
  assert.equal(o.steps, 50);
  assert.equal(o.innerSteps, 7);
  assert.equal(o.seed, 18446744073709551615n);
  const d = resolveSamplerOptions({}, pixelPrior(true));
  assert.equal(d.update.kind, 'ancestral');
  assert.equal(d.clip, null);
});

test('invalid options are InputErrors naming the option', () => {
  const bad: [Record<string, unknown>, string][] = [
    [{ preset: 'nope' }, 'preset'],
    [{ steps: 0 }, 'steps'],
    [{ steps: 1001 }, 'steps'],
    [{ steps: 20 }, 'steps'], // as-released β′ = 50·0.02 reaches 1
    [{ steps: 2.5 }, 'steps'],
    [{ innerSteps: -1 }, 'innerSteps'],
    [{ lr: Number.NaN }, 'lr'],
    [{ gamma: [{ start: 1, end: 1, tStart: 0, tEnd: 100 }] }, 'gamma[0].tEnd'],
    [{ gamma: [{ start: 1, end: 1, tStart: 'x', tEnd: 100 }] }, 'gamma[0].tStart'],
    [{ update: { kind: 'ddim', variance: 'huge' } }, 'update.variance'],
    [{ update: { kind: 'ddim', eta: 3 } }, 'update.eta'],
    [{ update: { kind: 'euler' } }, 'update.kind'],
    [{ update: { kind: 'ancestral', respacing: 'sometimes' } }, 'update.respacing'],
    [{ variant: 'dps' }, 'variant'],
    [{ output: 'both' }, 'output'],
    [{ clip: [1, -1] }, 'clip'],
    [{ seed: -1 }, 'seed'],
    [{ stepz: 3 }, 'stepz'],
    [{ variant: 'no-denoiser-jacobian', tau: 0.1 }, 'tau'],
  ];
  for (const [input, name] of bad) {
    assert.throws(
      () => resolveSamplerOptions(input as never, pixelPrior(true)),
      (e: unknown) => e instanceof InputError && e.input === name,
      `${JSON.stringify(input)} should name ${name}`,
    );
  }
  assert.throws(
    () => resolveSamplerOptions({ preset: 'imagenet-dinov2' }, pixelPrior(false)),
    (e: unknown) => e instanceof InputError && e.input === 'update.variance',
  );
});
