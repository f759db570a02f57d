import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encodePng } from '../../store/images.ts';
import { DataType, GraphBuilder, emptyModel, saveModel } from '../onnx/index.ts';
import type { Model } from '../onnx/index.ts';
import { gaussianMixturePrior } from '../priors/analytic.ts';
import { MNIST_SIZE, loadDigits } from './mnist.ts';

/**
 * The bundled demo, built by code from real MNIST digits (no downloads): a prior over digits and
 * their mirror images (a domain where mirrored shapes occur, as mirrored anatomy does), and two
 * extractors that see the same coarse layout of a digit, one of which is made blind to horizontal
 * flips. Auditing both on the same queries should find the planted invariance in one and not the
 * other: the flip-invariant model's fiber holds the mirrored digit, the other's does not.
 */
export const DEMO = {
  /** Prior components: digits 0..perLabel-1 of each label, and their mirrors. */
  priorPerLabel: 60,
  /** Spread of each component around its digit (prior range [−1, 1]). */
  componentStd: 0.1,
  /** Queries: held-out digits (never prior components). */
  queryOffset: 800,
  queriesPerLabel: 3,
  features: 64,
  /** The extractors see the digit as a grid of pool×pool block means. */
  pool: 2,
};
export type DemoSettings = typeof DEMO;

const F32 = DataType.float32;
const S = MNIST_SIZE;

function mirror(pixels: Float32Array): Float32Array {
  const out = new Float32Array(pixels.length);
  for (let r = 0; r < S; r++) for (let c = 0; c < S; c++) out[r * S + c] = pixels[r * S + (S - 1 - c)]!;
  return out;
}

/** A small deterministic generator, so the demo extractors are the same on every machine. */
function gaussians(seed: number, n: number): Float64Array {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  return out;
}

/**
 * φ(x) = tanh(pool₄(x)·W + b): a 7×7 grid of 4×4 block means projected to `features` dimensions.
 * With `flipInvariant`, φ'(x) = φ(x) + φ(mirror(x)), so a digit and its mirror share features.
 */
export function demoExtractor(flipInvariant: boolean, opset = 17, settings: DemoSettings = DEMO): Model {
  const POOL = settings.pool;
  const CELLS = (S / POOL) ** 2;
  const FEATURES = settings.features;
  const m: Model = emptyModel(
    flipInvariant ? 'digits_flip_invariant' : 'digits_layout',
    opset,
    [{ name: 'pixels', dataType: F32, shape: ['N', 1, S, S] }],
    [{ name: 'features', dataType: F32, shape: ['N', FEATURES] }],
  );
  const b = new GraphBuilder(m.graph, opset);
  const pool = new Float64Array(S * S * CELLS);
  for (let r = 0; r < S; r++)
    for (let c = 0; c < S; c++)
      pool[(r * S + c) * CELLS + Math.floor(r / POOL) * (S / POOL) + Math.floor(c / POOL)] = 1 / (POOL * POOL);
  const P = b.constant(F32, [S * S, CELLS], pool, 'pool');
  const W = b.constant(
    F32,
    [CELLS, FEATURES],
    gaussians(7, CELLS * FEATURES).map((v) => v * 0.6),
    'W',
  );
  const bias = b.constant(
    F32,
    [1, FEATURES],
    gaussians(11, FEATURES).map((v) => v * 0.1),
    'bias',
  );
  const flatShape = b.int64s([-1, S * S], 'flat_shape');
  const phi = (x: string) =>
    b.op('Tanh', [b.op('Add', [b.op('MatMul', [b.op('MatMul', [b.op('Reshape', [x, flatShape]), P]), W]), bias])]);
  if (!flipInvariant) {
    b.op('Identity', [phi('pixels')], undefined, 'features');
  } else {
    const reversed = b.int64s(
      Array.from({ length: S }, (_, i) => S - 1 - i),
      'reversed',
    );
    const mirrored = b.op('Gather', ['pixels', reversed], { axis: 3 });
    b.op('Add', [phi('pixels'), phi(mirrored)], undefined, 'features');
  }
  return m;
}

export interface DemoPaths {
  prior: string;
  extractors: { name: string; path: string; flipInvariant: boolean }[];
  dataset: string;
}

/** Writes the demo's prior bundle, two extractor bundles and a dataset of held-out query digits under `dir`. */
export async function buildDemo(dir: string, settings: DemoSettings = DEMO): Promise<DemoPaths> {
  const digits = loadDigits({ perLabel: settings.priorPerLabel });
  const means = digits.flatMap((d) => [d.pixels, mirror(d.pixels)]);
  const prior = gaussianMixturePrior({
    shape: [1, S, S],
    range: [-1, 1],
    clip: [-1, 1],
    means,
    stds: means.map(() => settings.componentStd),
  });
  prior.manifest.name = 'mnist-mirrored-mixture';
  const priorDir = join(dir, 'prior');
  await mkdir(priorDir, { recursive: true });
  saveModel(prior.model, join(priorDir, prior.manifest.denoiser.file));
  await writeFile(join(priorDir, 'fiberscope.json'), JSON.stringify(prior.manifest, null, 2));

  const extractors: DemoPaths['extractors'] = [];
  for (const flipInvariant of [false, true]) {
    const name = flipInvariant ? 'digits-flip-invariant' : 'digits-layout';
    const path = join(dir, name);
    await mkdir(path, { recursive: true });
    saveModel(demoExtractor(flipInvariant, 17, settings), join(path, 'phi.onnx'));
    const manifest = {
      version: 1,
      kind: 'extractor',
      name,
      model: { file: 'phi.onnx', input: 'pixels', output: 'features' },
      preprocess: [],
      loss: 'l2',
      metric: 'squared_l2',
    };
    await writeFile(join(path, 'fiberscope.json'), JSON.stringify(manifest, null, 2));
    extractors.push({ name, path, flipInvariant });
  }

  const dataset = join(dir, 'queries');
  await mkdir(dataset, { recursive: true });
  for (const d of loadDigits({ perLabel: settings.queriesPerLabel, offset: settings.queryOffset })) {
    await writeFile(join(dataset, `digit${d.label}-${d.index}.png`), encodePng(d.pixels, [1, S, S], [-1, 1]));
  }
  return { prior: priorDir, extractors, dataset };
}

/**
 * Sampler settings of the demo: the paper's default γ anchors (imagenet-dinov2) on a shorter,
 * deterministic DDIM chain with a larger control step, so the demo runs in well under a minute on 2 cores.
 */
export const DEMO_SAMPLER = {
  preset: 'imagenet-dinov2',
  steps: 100,
  innerSteps: 4,
  lr: 0.05,
  update: 'ddim',
  variance: 'small',
  eta: 0,
  k: 4,
  probes: 'hflip,vflip,rot90,rot180,rot270',
  seed: '0',
} as const;
