import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OnnxFiberObjective } from '../../../engine/guidance/compose.ts';
import { sizeOf } from '../../../engine/guidance/objective.ts';
import { resolveSamplerOptions } from '../../../engine/guidance/options.ts';
import { sampleFiber } from '../../../engine/guidance/sampler.ts';
import { loadExtractorBundle, loadPriorBundle } from '../../../engine/priors/load.ts';
import { openSession, tensor } from '../../../engine/runtime/index.ts';
import { BENCH_UNET, TINY_UNET, diffusionUnet, resnet18, writeRealisticBundles } from '../../fixtures/realistic.ts';

/**
 * The sampler benchmark's models (bench/sampler-throughput.ts): the UNet prior and the ResNet-18
 * extractor compose into a gradient graph (the timestep embedding's Sin/Cos stay off the gradient
 * path), whose ∂cost/∂u agrees with central differences, and the sampler runs on them.
 */

function values(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 16807) % 2147483647;
    return (s / 2147483647) * 2 - 1;
  });
}

const dir = await mkdtemp(join(tmpdir(), 'fiberscope-realistic-'));
const bundles = await writeRealisticBundles(dir, { unet: TINY_UNET, extractorSize: 32 });
const objective = await OnnxFiberObjective.create(
  await loadPriorBundle(bundles.prior),
  await loadExtractorBundle(bundles.extractor),
);
const B = 2;
const D = sizeOf(objective.prior.stateShape);

test.after(() => rm(dir, { recursive: true, force: true }));

test('UNet prior + ResNet-18 extractor: ∂cost/∂u is finite and matches central differences', async () => {
  assert.equal(objective.featureDim, 512);
  const x = values(B * D, 1).map((v) => 0.5 * v);
  const u = values(B * D, 2).map((v) => 0.1 * v);
  const y = (
    await objective.imageFeatures(
      values(B * D, 3).map((v) => 0.8 * v),
      B,
    )
  ).slice();
  const args = { x, u, gamma: 1, t: 100, y, batch: B, weight: 1, tau: 0, epsRef: null, clip: objective.prior.clip };
  const r = await objective.costGrad(args);
  assert.ok(
    r.cost.every((c) => Number.isFinite(c) && c > 0),
    `cost ${[...r.cost]}`,
  );
  assert.ok(r.gradU.every(Number.isFinite), 'gradient finite');
  assert.ok(
    r.x0hat.every((v) => v >= -1 && v <= 1),
    'x̂₀ clamped to the image range',
  );
  // Along each sample's own gradient direction the slope must equal |∂cost/∂u|: a random direction
  // would carry √D times less signal than the ReLU/MaxPool kinks that a finite step crosses.
  const norms = Array.from({ length: B }, (_, b) => Math.hypot(...r.gradU.subarray(b * D, (b + 1) * D)));
  const direction = r.gradU.map((g, j) => g / norms[Math.floor(j / D)]!);
  const h = 3e-3;
  const along = async (sign: number) =>
    (await objective.costGrad({ ...args, u: u.map((v, j) => v + sign * h * direction[j]!) })).cost;
  const [plus, minus] = [await along(1), await along(-1)];
  for (let b = 0; b < B; b++) {
    const slope = (plus[b]! - minus[b]!) / (2 * h);
    assert.ok(Math.abs(slope - norms[b]!) <= 0.03 * norms[b]!, `sample ${b}: |gradient| ${norms[b]} vs slope ${slope}`);
  }
});

test('the sampler runs a few guided steps on the pair with finite samples and the expected NFE counts', async () => {
  const options = resolveSamplerOptions(
    {
      preset: 'imagenet-dinov2',
      steps: 3,
      innerSteps: 1,
      update: { kind: 'ancestral', variance: 'small', respacing: 'exact' },
    },
    objective.prior,
  );
  const r = await sampleFiber(objective, [{ imageId: 'q', image: values(D, 5), sampleIndices: [0, 1] }], options);
  assert.ok(
    r.samples.every((v) => Number.isFinite(v) && v >= -1 && v <= 1),
    'samples finite, in range',
  );
  assert.ok(r.cost.every(Number.isFinite), `cost ${[...r.cost]}`);
  // ts = 0, 333, 666: γ > 0 at all three, one costGrad each.
  assert.deepEqual(r.nfe, { denoiserForward: 9, denoiserBackward: 3, extractorForward: 8, extractorBackward: 3 });
});

test('the benchmark-size UNet (64×64, 64/128/128) and ResNet-18 (224²) run forward with the declared shapes', async () => {
  const unet = await openSession(diffusionUnet(BENCH_UNET), {}, 'bench unet');
  const size = BENCH_UNET.size;
  const eps = (
    await unet.run({
      x: tensor('float32', [1, 3, size, size], values(3 * size * size, 6)),
      t: tensor('int64', [1], [500]),
    })
  )['eps']!;
  assert.deepEqual(eps.dims, [1, 3, size, size]);
  assert.ok((eps.data as Float32Array).every(Number.isFinite));
  const phi = await openSession(resnet18(224), {}, 'bench resnet18');
  const features = (await phi.run({ pixels: tensor('float32', [1, 3, 224, 224], values(3 * 224 * 224, 7)) }))[
    'features'
  ]!;
  assert.deepEqual(features.dims, [1, 512]);
  assert.ok((features.data as Float32Array).every(Number.isFinite));
});
