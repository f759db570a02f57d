/**
 * Fiber sampler throughput on ONNX Runtime (CPU), two configurations:
 *   demo:      the bundled MNIST demo exactly as `fiberscope demo` samples it (layout extractor,
 *              DEMO_SAMPLER options, its queries × K = 4 in the audit's batches of 10 queries), plus the
 *              same audit end to end;
 *   realistic: a 64×64 UNet prior (64/128/128 channels, random weights) and a ResNet-18 extractor,
 *              n = 100, N = 4, K = 4 samples of one query, imagenet-dinov2 γ anchors, ancestral
 *              (small variance, as released: the UNet has no variance channels for learned_range).
 * Prints samples per hour, seconds per sample, NFEs per sample, the peak RSS (VmHWM) of the process
 * that ran the configuration, and a same-run reference: median times of one costGrad, one predict
 * and one extractor forward at the sampling batch, taken at evenly spaced steps of the run, and
 * measured / Σ(calls × reference) so time spent outside ONNX Runtime shows as a ratio above 1. The
 * objective's calls inside the run are timed too (count, median, their share of the run).
 *
 *   node --import tsx bench/sampler-throughput.ts [--only demo|realistic] [--steps 100]
 *        [--inner-steps 4] [--k 4] [--extractor-size 224] [--reference-runs 10] [--threads N]
 * A smoke run of the realistic configuration: --only realistic --steps 3 --inner-steps 1 --reference-runs 1.
 * Each configuration runs in a child process of its own, so its peak memory is its own.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { auditLocally } from '../cli/actions/audit.ts';
import { demoAuditArgs } from '../cli/actions/demo.ts';
import { samplerOptionsFromArgs } from '../cli/sampler-options.ts';
import { DEMO_SAMPLER, buildDemo } from '../engine/demo/build.ts';
import { OnnxFiberObjective } from '../engine/guidance/compose.ts';
import { sizeOf } from '../engine/guidance/objective.ts';
import { resolveSamplerOptions } from '../engine/guidance/options.ts';
import type { SamplerOptions } from '../engine/guidance/options.ts';
import type { FiberObjective } from '../engine/guidance/objective.ts';
import { describeUpdate, sampleFiber } from '../engine/guidance/sampler.ts';
import type { FiberQuery, NfeCounts } from '../engine/guidance/sampler.ts';
import { priorInfo } from '../engine/priors/bundle.ts';
import { loadExtractorBundle, loadPriorBundle } from '../engine/priors/load.ts';
import type { RuntimeOptions } from '../engine/runtime/index.ts';
import { FileStore } from '../store/objects.ts';
import { decodeImage } from '../store/images.ts';
import { writeRealisticBundles } from '../test/fixtures/realistic.ts';

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    steps: { type: 'string', default: '100' },
    'inner-steps': { type: 'string', default: '4' },
    k: { type: 'string', default: '4' },
    'extractor-size': { type: 'string', default: '224' },
    'reference-runs': { type: 'string', default: '10' },
    threads: { type: 'string' },
  },
});
const CONFIGS = ['demo', 'realistic'] as const;

if (values.only === undefined) {
  for (const name of CONFIGS) {
    const args = process.argv.slice(2);
    const child = spawnSync(
      process.execPath,
      [...process.execArgv, fileURLToPath(import.meta.url), ...args, '--only', name],
      {
        stdio: 'inherit',
      },
    );
    if (child.status !== 0) process.exit(child.status ?? 1);
  }
  process.exit(0);
}
if (!CONFIGS.includes(values.only as (typeof CONFIGS)[number]))
  throw new Error(`--only: expected ${CONFIGS.join(' or ')}, got ${values.only}`);

const referenceRuns = Number(values['reference-runs']);
// Default as a sampling worker runs: ONNX Runtime picks the intra-op threads (every core).
const runtime: RuntimeOptions = {
  provider: 'cpu',
  ...(values.threads !== undefined ? { intraOpThreads: Number(values.threads) } : {}),
};

/** Peak resident set size of this process so far, MiB. */
function peakRssMiB(): number {
  const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  return kb ? Number(kb) / 1024 : Number.NaN;
}

async function seconds(run: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await run();
  return (performance.now() - t0) / 1000;
}

/** Deterministic values in [−1, 1]. */
function pattern(n: number, phase: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + phase) * Math.cos(i * 0.011));
}

interface Measured {
  label: string;
  /** Samples per batch. */
  batch: number;
  batches: number;
  setupSeconds: number;
  samplingSeconds: number;
  nfe: NfeCounts;
  reference: { costGrad: number; predict: number; features: number };
  /** Durations (s) of the objective's calls during the timed sampling, per method. */
  calls: Map<string, number[]>;
  extra?: string;
}

/** The objective with every call's duration recorded, so time inside ONNX Runtime is known per run. */
function timed(objective: FiberObjective, calls: Map<string, number[]>): FiberObjective {
  const time = async <T>(name: string, run: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const result = await run();
    const list = calls.get(name) ?? [];
    list.push((performance.now() - t0) / 1000);
    calls.set(name, list);
    return result;
  };
  return {
    prior: objective.prior,
    loss: objective.loss,
    featureDim: objective.featureDim,
    predict: (x, t, batch) => time('predict', () => objective.predict(x, t, batch)),
    features: (x0, batch, clip) => time('extractor fwd', () => objective.features(x0, batch, clip)),
    imageFeatures: (images, batch) => time('extractor fwd', () => objective.imageFeatures(images, batch)),
    costGrad: (args) => time('costGrad', () => objective.costGrad(args)),
  };
}

function medianOf(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * Times sampleFiber on each batch in turn (as the audit samples a shard) after the sessions and
 * gradient graph it needs exist; every batch holds the same number of samples.
 */
async function measure(
  label: string,
  objective: OnnxFiberObjective,
  batches: FiberQuery[][],
  options: SamplerOptions,
): Promise<Measured> {
  const B = batches[0]!.reduce((a, q) => a + q.sampleIndices.length, 0);
  const D = sizeOf(objective.prior.stateShape);
  const x = pattern(B * D, 0);
  const u = pattern(B * D, 1).map((v) => 0.01 * v);
  const y = new Float32Array(B * objective.featureDim);
  const clip = objective.prior.clip;
  const costGrad = () =>
    objective.costGrad({ x, u, gamma: 2, t: 500, y, batch: B, weight: 1, tau: 0, epsRef: null, clip });
  const predict = () => objective.predict(x, 500, B);
  const features = () => objective.features(x, B, clip);
  // Graph derivation and session creation happen once per worker; they are reported apart.
  const setupSeconds = await seconds(async () => {
    await costGrad();
    await predict();
    await features();
  });
  // The references are taken at evenly spaced steps during the run, so that they meet the same
  // machine load as the sampling (on a shared machine it changes by several times within minutes);
  // their time is taken out of the sampling time.
  const times = { costGrad: [] as number[], predict: [] as number[], features: [] as number[] };
  let referenceSeconds = 0;
  let taken = 0;
  let printed = 0;
  const calls = new Map<string, number[]>();
  const objectiveTimed = timed(objective, calls);
  const total = options.steps * batches.length;
  let nfe: NfeCounts | undefined;
  const t0 = performance.now();
  for (const [index, queries] of batches.entries()) {
    const r = await sampleFiber(objectiveTimed, queries, options, {
      onStep: async (i) => {
        const step = index * options.steps + i;
        const due = Math.floor((step * referenceRuns) / total);
        for (; taken < due; taken++) {
          const r0 = performance.now();
          times.costGrad.push(await seconds(costGrad));
          times.predict.push(await seconds(predict));
          times.features.push(await seconds(features));
          referenceSeconds += (performance.now() - r0) / 1000;
        }
        if (step - printed >= Math.max(1, Math.floor(total / 10)) || step === total) {
          printed = step;
          const elapsed = (performance.now() - t0) / 1000;
          process.stderr.write(`  ${label}: step ${step}/${total}, ${elapsed.toFixed(0)} s\n`);
        }
      },
    });
    nfe = r.nfe;
  }
  const samplingSeconds = (performance.now() - t0) / 1000 - referenceSeconds;
  const reference = {
    costGrad: medianOf(times.costGrad),
    predict: medianOf(times.predict),
    features: medianOf(times.features),
  };
  return { label, batch: B, batches: batches.length, setupSeconds, samplingSeconds, nfe: nfe!, reference, calls };
}

function report(m: Measured, options: SamplerOptions): void {
  const { nfe, reference: ref } = m;
  // One batched call counts once per sample, so per batch the calls equal the per-sample counts.
  const costGrads = m.batches * nfe.denoiserBackward;
  const predicts = m.batches * (nfe.denoiserForward - nfe.denoiserBackward);
  const featureRuns = m.batches * (nfe.extractorForward - nfe.extractorBackward);
  const expected = costGrads * ref.costGrad + predicts * ref.predict + featureRuns * ref.features;
  const samples = m.batch * m.batches;
  const perSample = m.samplingSeconds / samples;
  const inside = [...m.calls.values()].flat().reduce((a, b) => a + b, 0);
  const ms = (s: number): string => (1000 * s).toFixed(1);
  const lines = [
    `${m.label}`,
    `  sampler: n=${options.steps} N=${options.innerSteps} update=${describeUpdate(options.update)} ` +
      `variant=${options.variant}, ${m.batches} batch${m.batches > 1 ? 'es' : ''} of ${m.batch} samples`,
    `  samples/hour ${(3600 / perSample).toFixed(1)}, seconds/sample ${perSample.toFixed(3)} ` +
      `(${samples} samples in ${m.samplingSeconds.toFixed(2)} s; setup ${m.setupSeconds.toFixed(2)} s apart)`,
    `  NFE/sample: denoiser fwd ${nfe.denoiserForward} bwd ${nfe.denoiserBackward}, ` +
      `extractor fwd ${nfe.extractorForward} bwd ${nfe.extractorBackward}`,
    `  reference at batch ${m.batch} (median of ${referenceRuns} taken during the run): costGrad ${ms(ref.costGrad)} ms, ` +
      `predict ${ms(ref.predict)} ms, extractor fwd ${ms(ref.features)} ms`,
    `  measured / Σ(calls × reference) = ${m.samplingSeconds.toFixed(2)} s / ${expected.toFixed(2)} s = ` +
      `${(m.samplingSeconds / expected).toFixed(3)} (${costGrads} costGrad, ${predicts} predict, ${featureRuns} extractor fwd)`,
    `  inside the run: ${[...m.calls]
      .map(([name, t]) => `${name} ${t.length} × median ${ms(medianOf(t))} ms`)
      .join(', ')}; ONNX Runtime calls ${inside.toFixed(2)} s = ${((100 * inside) / m.samplingSeconds).toFixed(0)}% ` +
      `of the run, ${(m.samplingSeconds - inside).toFixed(2)} s outside`,
    `  peak RSS (VmHWM) ${peakRssMiB().toFixed(0)} MiB; load average ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cores`,
  ];
  if (m.extra) lines.push(m.extra);
  console.log(lines.join('\n'));
}

const work = await mkdtemp(join(tmpdir(), 'fiberscope-bench-'));
try {
  if (values.only === 'demo') {
    const paths = await buildDemo(join(work, 'bundles'));
    const layout = paths.extractors.find((e) => !e.flipInvariant)!;
    const [prior, extractor] = await Promise.all([loadPriorBundle(paths.prior), loadExtractorBundle(layout.path)]);
    // As the local engine loads pairs (activities/pairs.ts).
    const objective = await OnnxFiberObjective.create(prior, extractor, { runtime });
    const store = new FileStore(join(work, 'runs'));
    const audit = demoAuditArgs(paths, layout.path, store.location, true);
    const options = samplerOptionsFromArgs(audit, priorInfo(prior.manifest));
    const [c, h, w] = objective.prior.imageShape as [1 | 3, number, number];
    const files = (await readdir(paths.dataset)).sort();
    const queries: FiberQuery[] = [];
    for (const f of files) {
      const image = decodeImage(
        await readFile(join(paths.dataset, f)),
        { channels: c, height: h, width: w, range: [-1, 1] },
        f,
      );
      queries.push({
        imageId: f,
        image: image.data,
        sampleIndices: Array.from({ length: DEMO_SAMPLER.k }, (_, k) => k),
      });
    }
    const batches: FiberQuery[][] = [];
    for (let i = 0; i < queries.length; i += audit.batchImages) batches.push(queries.slice(i, i + audit.batchImages));
    const m = await measure(
      `demo (${layout.name}, ${queries.length} queries × K=${DEMO_SAMPLER.k}, ${audit.batchImages} queries a batch)`,
      objective,
      batches,
      options,
    );
    const auditSeconds = await seconds(() => auditLocally(audit, store, layout.name));
    m.extra =
      `  demo audit end to end (fresh pair load and gradient derivation, PNG decode, metrics, probes, PNGs, tables): ` +
      `${auditSeconds.toFixed(2)} s for ${m.batch * m.batches} samples`;
    report(m, options);
  } else {
    const bundles = await writeRealisticBundles(work, { extractorSize: Number(values['extractor-size']) });
    const [prior, extractor] = await Promise.all([
      loadPriorBundle(bundles.prior),
      loadExtractorBundle(bundles.extractor),
    ]);
    const objective = await OnnxFiberObjective.create(prior, extractor, { runtime });
    const options = resolveSamplerOptions(
      {
        preset: 'imagenet-dinov2',
        steps: Number(values.steps),
        innerSteps: Number(values['inner-steps']),
        // As released needs n ≥ 21 (β′ < 1); shorter smoke runs take the exact respacing.
        update: {
          kind: 'ancestral',
          variance: 'small',
          respacing: Number(values.steps) >= 21 ? 'as-released' : 'exact',
        },
      },
      objective.prior,
    );
    const k = Number(values.k);
    const query: FiberQuery = {
      imageId: 'query',
      image: pattern(sizeOf(objective.prior.imageShape), 2),
      sampleIndices: Array.from({ length: k }, (_, i) => i),
    };
    const size = Number(values['extractor-size']);
    report(
      await measure(
        `realistic (UNet 64×64 64/128/128 + ResNet-18 at ${size}², one query × K=${k})`,
        objective,
        [[query]],
        options,
      ),
      options,
    );
  }
} finally {
  await rm(work, { recursive: true, force: true });
}
