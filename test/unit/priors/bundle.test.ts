import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExtractorManifest, PriorManifest } from '../../../engine/priors/bundle.ts';
import { parseBundleManifest, priorInfo, readBundleManifest } from '../../../engine/priors/bundle.ts';
import { InputError } from '../../../engine/errors.ts';

const minimalPrior = {
  version: 1,
  kind: 'prior',
  type: 'diffusion',
  denoiser: {
    file: 'eps.onnx',
    input: 'x',
    timestep: 't',
    output: 'eps',
    prediction: 'epsilon',
    varianceChannels: false,
  },
  schedule: { type: 'linear', betaStart: 0.0001, betaEnd: 0.02, timesteps: 1000 },
  image: { channels: 3, height: 256, width: 256, range: [-1, 1] },
};
const extractor = {
  version: 1,
  kind: 'extractor',
  model: { file: 'phi.onnx', input: 'pixels', output: 'features' },
  preprocess: [
    { op: 'rescale', from: [-1, 1], to: [0, 1] },
    { op: 'resize', size: [224, 224], mode: 'bilinear' },
    { op: 'normalize', mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
  ],
  loss: 'l2',
  metric: 'squared_l2',
};

test('DESIGN examples validate; defaults are filled', () => {
  const p = parseBundleManifest(minimalPrior) as PriorManifest;
  assert.equal(p.kind, 'prior');
  assert.deepEqual(p.clip, [-1, 1]);
  const bare = parseBundleManifest({
    version: 1,
    kind: 'prior',
    type: 'diffusion',
    denoiser: { file: 'e.onnx' },
    image: { channels: 1, height: 8, width: 8 },
  }) as PriorManifest;
  assert.deepEqual(bare.denoiser, {
    file: 'e.onnx',
    input: 'x',
    timestep: 't',
    output: 'eps',
    prediction: 'epsilon',
    varianceChannels: false,
  });
  assert.deepEqual(bare.schedule, { type: 'linear', betaStart: 1e-4, betaEnd: 0.02, timesteps: 1000 });
  assert.deepEqual(bare.image.range, [-1, 1]);
  const e = parseBundleManifest(extractor) as ExtractorManifest;
  assert.equal(e.preprocess.length, 3);
  const eBare = parseBundleManifest({ version: 1, kind: 'extractor', model: 'phi.onnx' }) as ExtractorManifest;
  assert.deepEqual(
    [eBare.model, eBare.preprocess, eBare.loss, eBare.metric],
    [{ file: 'phi.onnx' }, [], 'l2', 'squared_l2'],
  );
  const steps = parseBundleManifest({
    ...extractor,
    preprocess: [
      { op: 'center_crop', size: [224, 224] },
      { op: 'repeat_channels' },
      { op: 'grayscale' },
      { op: 'resize', size: [8, 8] },
    ],
  }) as ExtractorManifest;
  assert.deepEqual(steps.preprocess[1], { op: 'repeat_channels', channels: 3 });
  assert.deepEqual(steps.preprocess[3], { op: 'resize', size: [8, 8], mode: 'bilinear' });
});

test('flow and latent priors', () => {
  const flow = parseBundleManifest({
    version: 1,
    kind: 'prior',
    type: 'flow',
    denoiser: { file: 'v.onnx' },
    latent: {
      decoder: 'vae_dec.onnx',
      encoder: { file: 'vae_enc.onnx', output: 'mean' },
      scale: 0.18215,
      shape: [4, 32, 32],
    },
    image: { channels: 3, height: 256, width: 256 },
  }) as PriorManifest;
  assert.equal(flow.denoiser.prediction, 'velocity');
  assert.equal(flow.denoiser.output, 'velocity');
  assert.equal(flow.schedule, undefined);
  assert.equal(flow.clip, null);
  assert.deepEqual(flow.latent!.encoder, { file: 'vae_enc.onnx', output: 'mean' });
  const info = priorInfo(flow);
  assert.deepEqual(
    [info.kind, info.stateShape, info.imageShape, info.latent],
    ['flow', [4, 32, 32], [3, 256, 256], true],
  );
  const pix = priorInfo(parseBundleManifest(minimalPrior) as PriorManifest);
  assert.equal(pix.schedule!.alphaBar(-1), 1);
  assert.deepEqual(pix.stateShape, [3, 256, 256]);
});

test('every bad field is an InputError naming it and what was expected', () => {
  const cases: [unknown, string, RegExp][] = [
    [{ ...minimalPrior, version: 2 }, 'src#version', /expected 1/],
    [{ ...minimalPrior, kind: 'model' }, 'src#kind', /prior, extractor/],
    [{ ...minimalPrior, type: 'gan' }, 'src#type', /diffusion, flow/],
    [
      { ...minimalPrior, denoiser: { file: 'e.onnx', prediction: 'score' } },
      'src#denoiser.prediction',
      /epsilon, v, x0/,
    ],
    [{ ...minimalPrior, denoiser: { file: '' } }, 'src#denoiser.file', /non-empty string/],
    [
      { ...minimalPrior, denoiser: { file: 'e.onnx', varianceChannels: 'yes' } },
      'src#denoiser.varianceChannels',
      /true or false/,
    ],
    [{ ...minimalPrior, image: { channels: 0, height: 8, width: 8 } }, 'src#image.channels', /positive integer/],
    [{ ...minimalPrior, image: { channels: 3, height: 8, width: 8, range: [1, -1] } }, 'src#image.range', /lo < hi/],
    [{ ...minimalPrior, schedule: { type: 'sigmoid' } }, 'src#schedule.type', /linear, scaled_linear, cosine/],
    [{ ...minimalPrior, schedule: { betaStart: 0.1, betaEnd: 0.01 } }, 'src#schedule.betaEnd', /betaStart/],
    [{ ...minimalPrior, extra: 1 }, 'src#extra', /unknown field/],
    [{ ...minimalPrior, image: undefined }, 'src#image', /expected an object, got nothing/],
    [{ ...minimalPrior, type: 'flow', denoiser: { file: 'v.onnx' } }, 'src#schedule', /no noise schedule/],
    [{ ...minimalPrior, latent: { decoder: 'd.onnx', shape: [4, -1] } }, 'src#latent.shape', /positive integers/],
    [{ ...extractor, loss: 'huber' }, 'src#loss', /l2, l1, cross_entropy/],
    [{ ...extractor, metric: 'fid' }, 'src#metric', /squared_l2, rms, probability_distance/],
    [{ ...extractor, preprocess: [{ op: 'blur' }] }, 'src#preprocess[0].op', /rescale, resize/],
    [{ ...extractor, preprocess: [{ op: 'resize', size: [224] }] }, 'src#preprocess[0].size', /array of 2/],
    [
      { ...extractor, preprocess: [{ op: 'resize', size: [8, 8], mode: 'nearest' }] },
      'src#preprocess[0].mode',
      /bilinear, bicubic/,
    ],
    [
      { ...extractor, preprocess: [{ op: 'normalize', mean: [0.5, 0.5], std: [0.5] }] },
      'src#preprocess[0].std',
      /2 values/,
    ],
    [{ ...extractor, preprocess: [{ op: 'normalize', mean: [0.5], std: [0] }] }, 'src#preprocess[0].std', /positive/],
    [{ ...extractor, preprocess: [{ op: 'grayscale', weights: [1] }] }, 'src#preprocess[0].weights', /unknown field/],
    [{ ...extractor, model: { file: 'phi.onnx', inputs: 'x' } }, 'src#model.inputs', /unknown field/],
    [[], 'src#(root)', /expected an object/],
  ];
  for (const [json, input, message] of cases) {
    assert.throws(
      () => parseBundleManifest(json, 'src'),
      (e: unknown) => e instanceof InputError && e.input === input && message.test(e.message),
      `${JSON.stringify(json).slice(0, 80)} → ${input}`,
    );
  }
});

test('bundle folders: read, missing manifest, broken JSON', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bundle-'));
  try {
    await assert.rejects(readBundleManifest(dir), (e: unknown) => e instanceof InputError && e.input === dir);
    await writeFile(join(dir, 'fiberscope.json'), '{"version": 1,');
    await assert.rejects(readBundleManifest(dir), /not valid JSON/);
    await writeFile(join(dir, 'fiberscope.json'), JSON.stringify(extractor));
    assert.equal((await readBundleManifest(dir)).kind, 'extractor');
  } finally {
    await rm(dir, { recursive: true });
  }
});
