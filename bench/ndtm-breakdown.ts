/**
 * Where one NDTM inner step goes, fiberscope next to PyTorch eager, same threads: the cost gradient
 * (x + γu → CheXpert-style UNet → x̂₀ → clamp → preprocessing → ResNet-18 → loss, ∂/∂u) at batch K,
 * the bench/vs-pytorch.ts NDTM setting, which is 85% of a guided step. Each side times `runs`
 * evaluations, then profiles as many (onnxruntime's profiler; torch.profiler, both of which slow
 * what they watch) and takes from the profile the share of kernel time its convolutions have
 * (forward and backward, ConvTranspose included); that share of the unprofiled median is printed as
 * the convolutions' time, the achieved GFLOP/s of ours with it, the rest as everything else. The
 * last line is the ceiling this puts on the speed-up: PyTorch's whole evaluation over our
 * convolutions alone.
 *
 *   FIBERSCOPE_TORCH_VENV=/path/to/venv node --import tsx bench/ndtm-breakdown.ts [--threads 2] [--k 4] [--runs 8]
 * Needs the exports of bench/vs-pytorch.ts (run it once, or its `export` step) in FIBERSCOPE_BENCH_DIR
 * (default bench/.pytorch).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { GRADIENT_FILE } from '../engine/autodiff/cache.ts';
import { OnnxFiberObjective } from '../engine/guidance/compose.ts';
import { loadModel } from '../engine/onnx/index.ts';
import { loadExtractorBundle, loadPriorBundle } from '../engine/priors/load.ts';

const { values } = parseArgs({
  options: {
    threads: { type: 'string', default: '2' },
    k: { type: 'string', default: '4' },
    runs: { type: 'string', default: '8' },
  },
});
const threads = Number(values.threads);
const K = Number(values.k);
const runs = Number(values.runs);
const here = dirname(fileURLToPath(import.meta.url));
const dir = process.env.FIBERSCOPE_BENCH_DIR ?? join(here, '.pytorch');
const venv = process.env.FIBERSCOPE_TORCH_VENV;
if (!venv || !existsSync(join(venv, 'bin', 'python')))
  throw new Error('FIBERSCOPE_TORCH_VENV must name a virtual environment with torch (infra/export/setup.sh makes one)');
if (!existsSync(join(dir, 'ndtm', 'prior')))
  throw new Error(`no NDTM bundles in ${dir}: run bench/vs-pytorch.ts once (it exports them)`);

const median = (v: readonly number[]): number => [...v].sort((a, b) => a - b)[v.length >> 1]!;
const range = (v: readonly number[]): string => `${Math.min(...v).toFixed(0)}–${Math.max(...v).toFixed(0)}`;

interface ProfileEvent {
  cat?: string;
  name: string;
  dur: number;
  args: {
    op_name?: string;
    input_type_shape?: Record<string, number[]>[];
    output_type_shape?: Record<string, number[]>[];
  };
}

/** Multiply-adds × 2 of a Conv or ConvTranspose event, from the shapes the profiler records. */
function flops(e: ProfileEvent): number {
  const shapes = (e.args.input_type_shape ?? []).map((s) => Object.values(s)[0]!);
  const out = Object.values(e.args.output_type_shape?.[0] ?? {})[0];
  const [x, w] = shapes;
  if (!x || !w || !out) return 0;
  const weights = w.reduce((a, b) => a * b, 1);
  // Conv: every output position uses the whole (grouped) filter; ConvTranspose: every input position.
  const at = e.args.op_name === 'Conv' ? out : x;
  return 2 * weights * at[0]! * at.slice(2).reduce((a, b) => a * b, 1);
}

async function ours(): Promise<{ wall: number[]; convShare: number; convFlops: number }> {
  const cache = mkdtempSync(join(tmpdir(), 'fiberscope-breakdown-'));
  try {
    const [prior, extractor] = await Promise.all([
      loadPriorBundle(join(dir, 'ndtm', 'prior')),
      loadExtractorBundle(join(dir, 'ndtm', 'extractor')),
    ]);
    const runtime = { intraOpThreads: threads, spinning: false };
    const objective = await OnnxFiberObjective.create(prior, extractor, { runtime, gradientCache: cache });
    await objective.prepare(K);
    const D = 64 * 64;
    const F = objective.featureDim;
    const x = Float32Array.from({ length: K * D }, (_, i) => Math.sin(i * 0.37 + 2) * 0.5);
    const y = Float32Array.from({ length: K * F }, (_, i) => Math.cos(i * 0.11));
    const args = {
      x,
      u: new Float32Array(K * D),
      gamma: 0.1,
      t: 500,
      y,
      batch: K,
      weight: 1,
      tau: 0,
      epsRef: null,
      clip: [-1, 1] as [number, number],
    };
    for (let i = 0; i < 2; i++) await objective.costGrad(args);
    const wall: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      await objective.costGrad(args);
      wall.push(performance.now() - t0);
    }
    // The same graph in a profiled session of its own (the objective's session is not profiled).
    // The cache also holds the prediction's forward graph (engine/autodiff/forward.ts): take the one returning d_u.
    const graph = readdirSync(cache)
      .filter((d) => existsSync(join(cache, d, GRADIENT_FILE)))
      .find((d) => loadModel(join(cache, d, GRADIENT_FILE)).graph.outputs.some((o) => o.name === 'd_u'));
    if (!graph) throw new Error(`no cost gradient graph in ${cache}`);
    const prefix = join(cache, 'profile');
    const session = await ort.InferenceSession.create(join(cache, graph, GRADIENT_FILE), {
      executionProviders: ['cpu'],
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      enableMemPattern: false,
      graphOptimizationLevel: 'all',
      enableProfiling: true,
      profileFilePrefix: prefix,
      extra: { session: { intra_op: { allow_spinning: '0' } } },
    });
    const feeds: Record<string, ort.Tensor> = {
      x: new ort.Tensor('float32', x, [K, 1, 64, 64]),
      u: new ort.Tensor('float32', new Float32Array(K * D), [K, 1, 64, 64]),
      gamma: new ort.Tensor('float32', [0.1], []),
      y: new ort.Tensor('float32', y, [K, F]),
      weight: new ort.Tensor('float32', [1], []),
      d_cost: new ort.Tensor('float32', new Float32Array(K).fill(1), [K]),
      t: new ort.Tensor('int64', new BigInt64Array(K).fill(500n), [K]),
      sqrt_abar: new ort.Tensor('float32', [0.7], []),
      sqrt_one_minus_abar: new ort.Tensor('float32', [0.71], []),
      clip_min: new ort.Tensor('float32', [-1], []),
      clip_max: new ort.Tensor('float32', [1], []),
    };
    const wanted = Object.fromEntries(session.inputNames.map((n) => [n, feeds[n]!]));
    for (let i = 0; i < runs; i++) await session.run(wanted);
    session.endProfiling();
    await session.release();
    const file = readdirSync(cache).find((f) => f.startsWith('profile') && f.endsWith('.json'));
    if (!file) throw new Error('onnxruntime wrote no profile');
    const events = (JSON.parse(readFileSync(join(cache, file), 'utf8')) as ProfileEvent[]).filter(
      (e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'),
    );
    const isConv = (e: ProfileEvent) => e.args.op_name === 'Conv' || e.args.op_name === 'ConvTranspose';
    const sum = (list: ProfileEvent[]) => list.reduce((a, e) => a + e.dur, 0) / 1000 / runs;
    const convEvents = events.filter(isConv);
    return {
      wall,
      convShare: sum(convEvents) / sum(events),
      convFlops: convEvents.reduce((a, e) => a + flops(e), 0) / runs,
    };
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
}

function pytorch(): { wall: number[]; convShare: number } {
  const env = { ...process.env, OMP_WAIT_POLICY: 'PASSIVE' };
  const script = join(here, 'pytorch', 'vs_pytorch.py');
  const child = spawnSync(
    join(venv!, 'bin', 'python'),
    [script, 'breakdown', dir, String(K), String(runs), '--threads', String(threads)],
    { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  if (child.status !== 0) throw new Error(`vs_pytorch.py breakdown exited with ${child.status}`);
  const r = JSON.parse(child.stdout.trim().split('\n').pop()!) as { wallMs: number[]; convShare: number };
  return { wall: r.wallMs, convShare: r.convShare };
}

const a = await ours();
const b = pytorch();
const [wa, wb] = [median(a.wall), median(b.wall)];
const [ca, cb] = [a.convShare * wa, b.convShare * wb];
console.log(`\nNDTM cost gradient (UNet 64² + ResNet-18 at 224², K = ${K}), ${threads} threads, ${runs} runs each`);
console.log(
  `  fiberscope  ${wa.toFixed(0)} ms [${range(a.wall)}]: convolutions ${ca.toFixed(0)} ms (${(100 * a.convShare).toFixed(0)}%, ${(a.convFlops / ca / 1e6).toFixed(0)} GFLOP/s, ${(a.convFlops / 1e9).toFixed(1)} GFLOP), the rest ${(wa - ca).toFixed(0)} ms`,
);
console.log(
  `  PyTorch     ${wb.toFixed(0)} ms [${range(b.wall)}]: convolutions ${cb.toFixed(0)} ms (${(100 * b.convShare).toFixed(0)}%), the rest ${(wb - cb).toFixed(0)} ms`,
);
console.log(
  `  PyTorch/ours: whole ${(wb / wa).toFixed(2)}×, convolutions ${(cb / ca).toFixed(2)}×, the rest ${((wb - cb) / (wa - ca)).toFixed(2)}×; ceiling with nothing but our convolutions ${(wb / ca).toFixed(2)}×`,
);
