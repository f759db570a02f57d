/**
 * fiberscope on ONNX Runtime next to PyTorch eager, same threads, same networks, same run:
 *   gradient: one input-gradient evaluation (forward and backward, cotangent of ones) of ResNet-50,
 *             ConvNeXt-T, DINOv2 ViT-S/14 at 224², a CheXpert-style UNet (grayscale 64², diffusers
 *             UNet2DModel) and a VAE decoder (diffusers AutoencoderKL, latent 4×16×16), random
 *             weights, exported by bench/pytorch/vs_pytorch.py with torch.onnx.export. Each side
 *             runs in a process of its own; their evaluations alternate one by one, so machine load
 *             weighs on both alike. Printed: median [min–max] ms of each, the ratio of medians
 *             (PyTorch / ours: above 1 is ours faster), the min–max of the per-pair ratios, the
 *             start-up (process start to warm) and the peak RSS (VmHWM) of each process. Ours runs
 *             as fiberscope's commands do, with the gradient and session caches (in a fresh folder):
 *             a first process derives the graph and fills them (its peak RSS printed apart), the
 *             measured one opens the cached graph.
 *   ndtm:     the NDTM sampler, chexpert-classifier preset (DDIM, per-timestep target) with the UNet
 *             prior and a ResNet-18 extractor at 224², K samples of one query, against a PyTorch loop
 *             (bench/pytorch/vs_pytorch.py ndtm) on the same weights, γ, learning rates and DDIM
 *             coefficients. Ours runs three times (a first run with an empty cache, a run without
 *             onnxruntime's memory arena, then a second run with the cache in lockstep with PyTorch's:
 *             the two processes take turns step by step, the side going first alternating, so that
 *             machine load weighs on both alike; waits are not counted); printed: start-up (process
 *             start until the first step can begin: models loaded, graphs derived or read from the
 *             cache, sessions made; nothing evaluated on either side), median [min–max] and first
 *             guided-step time, whole-run time (first evaluations included), peak RSS.
 *
 *   FIBERSCOPE_TORCH_VENV=/path/to/venv node --import tsx bench/vs-pytorch.ts
 *        [--threads 2] [--runs 10] [--warmup 3] [--only NAME|ndtm] [--steps 20] [--inner-steps 4] [--k 4]
 *        [--provider cpu|cuda|webgpu]   (not cpu: PyTorch runs on CUDA; ours copies results back to the host)
 * The venv needs torch, torchvision, timm, diffusers, onnx (pip install); the exports go to
 * FIBERSCOPE_BENCH_DIR (default bench/.pytorch, git-ignored) and are made once.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cachedGradient } from '../engine/autodiff/cache.ts';
import { OnnxFiberObjective } from '../engine/guidance/compose.ts';
import { gammaAt, learningRateAt } from '../engine/guidance/gamma.ts';
import { sizeOf } from '../engine/guidance/objective.ts';
import { resolveSamplerOptions } from '../engine/guidance/options.ts';
import { sampleFiber } from '../engine/guidance/sampler.ts';
import { ddimCoefficients } from '../engine/guidance/updates.ts';
import { loadModel } from '../engine/onnx/index.ts';
import { loadExtractorBundle, loadPriorBundle } from '../engine/priors/load.ts';
import { timestepGrid, walk } from '../engine/priors/schedule.ts';
import { openSession, resolveShapes, tensor } from '../engine/runtime/index.ts';
import type { RuntimeOptions } from '../engine/runtime/index.ts';
import { engineCaches } from '../store/bundles.ts';

const { values } = parseArgs({
  options: {
    threads: { type: 'string', default: '2' },
    provider: { type: 'string', default: 'cpu' },
    // Thread pools spin-wait by default (ONNX Runtime's and PyTorch's OpenMP); on a loaded machine
    // that measures the load more than the code, so both sides wait passively unless --spin, which
    // leaves each library its default (PyTorch's OpenMP then spins a short while before sleeping).
    spin: { type: 'boolean', default: false },
    // Internal: derive and cache the gradient graph and session, print the peak RSS, exit.
    prepare: { type: 'boolean', default: false },
    // Internal: the NDTM side's runtime without onnxruntime's memory arena.
    'no-arena': { type: 'boolean', default: false },
    runs: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    only: { type: 'string' },
    steps: { type: 'string', default: '20' },
    'inner-steps': { type: 'string', default: '4' },
    k: { type: 'string', default: '4' },
    // Internal: this file as one side of a measurement.
    'serve-grad': { type: 'string' },
    'serve-ndtm': { type: 'string' },
    // Internal: the NDTM side takes each step on a 'go' line (see ndtm()).
    lockstep: { type: 'boolean', default: false },
  },
});
const threads = Number(values.threads);
const provider = values.provider as NonNullable<RuntimeOptions['provider']>;
const runtime: RuntimeOptions = {
  provider,
  intraOpThreads: threads,
  interOpThreads: 1,
  spinning: values.spin,
  ...(values['no-arena'] ? { memoryArena: false } : {}),
};
const torchEnv = values.spin ? { ...process.env } : { ...process.env, OMP_WAIT_POLICY: 'PASSIVE' };
/** Where PyTorch runs: the CPU next to ours on the CPU, CUDA next to a GPU provider. */
const torchDevice = ['--threads', String(threads), '--device', provider === 'cpu' ? 'cpu' : 'cuda'];
const here = dirname(fileURLToPath(import.meta.url));
const script = join(here, 'pytorch', 'vs_pytorch.py');
const dir = process.env['FIBERSCOPE_BENCH_DIR'] ?? join(here, '.pytorch');
const GRADIENT_SUBJECTS = ['resnet50', 'convnext-tiny', 'dinov2-vits14', 'unet-chexpert-64', 'vae-decoder'];

function peakRssMiB(): number {
  const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  return kb ? Number(kb) / 1024 : Number.NaN;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const range = (xs: readonly number[], digits = 0): string =>
  `${median(xs).toFixed(digits)} [${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}]`;

/** Seconds since this process started (performance's time origin). */
const uptime = (): number => performance.now() / 1000;

// ---- one side of a gradient measurement: fiberscope, speaking the line protocol of vs_pytorch.py serve-grad

async function serveGrad(name: string): Promise<void> {
  const info = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as {
    input: string;
    output: string;
    dims: number[];
    outputDims: number[];
  };
  const file = join(dir, `${name}.onnx`);
  // As fiberscope's commands do: the derived graph and onnxruntime's optimized session of it kept in
  // the cache folder (the --prepare process fills it), keyed by the export's bytes, so that a hit
  // neither parses the export nor resolves its shapes.
  const caches = engineCaches();
  const contentId = createHash('sha256').update(readFileSync(file)).digest('hex');
  const request = { of: info.output, wrt: info.input, inputDims: { [info.input]: info.dims } };
  const source = await cachedGradient(caches.gradients, { contentId }, request, async () => {
    const model = loadModel(file);
    const shapes = await resolveShapes(model, { [info.input]: info.dims }, runtime);
    const { vjp } = await import('../engine/autodiff/vjp.ts');
    return vjp(model, { of: info.output, wrt: [info.input], shapes });
  });
  const session = await openSession(source, { ...runtime, sessionCache: caches.sessions }, name);
  if (values.prepare) {
    process.stdout.write(`peak ${peakRssMiB().toFixed(1)}\n`);
    return;
  }
  const n = sizeOf(info.dims);
  const feeds = {
    [info.input]: tensor(
      'float32',
      info.dims,
      Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37)),
    ),
    [`d_${info.output}`]: tensor('float32', info.outputDims, new Float32Array(sizeOf(info.outputDims)).fill(1)),
  };
  const once = () => session.run(feeds, [`d_${info.input}`]);
  for (let i = 0; i < Number(values.warmup); i++) await once();
  process.stdout.write(`ready ${uptime().toFixed(3)}\n`);
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === 'run') {
      const t0 = performance.now();
      const cpu = process.cpuUsage();
      await once();
      const used = process.cpuUsage(cpu);
      process.stdout.write(
        `ms ${(performance.now() - t0).toFixed(3)} ${((used.user + used.system) / 1000).toFixed(3)}\n`,
      );
    } else if (line === 'quit') break;
  }
  process.stdout.write(`peak ${peakRssMiB().toFixed(1)}\n`);
}

/** A child speaking the line protocol: `ready s`, then `ms wall cpu` per `run`, `peak MiB` after `quit`. */
class Side {
  private readonly lines: AsyncIterator<string>;
  private constructor(
    readonly label: string,
    private readonly child: ChildProcessWithoutNullStreams,
  ) {
    this.lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    child.stderr.on('data', (d: Buffer) => process.stderr.write(`  [${label}] ${d.toString()}`));
  }
  static start(label: string, command: string, args: string[], env = process.env): Side {
    return new Side(label, spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env }));
  }
  async expect(word: string): Promise<number[]> {
    for (;;) {
      const next = await this.lines.next();
      if (next.done) throw new Error(`${this.label}: exited before '${word}'`);
      const [w, ...v] = next.value.split(' ');
      if (w === word) return v.map(Number);
    }
  }
  /** Wall and CPU milliseconds of one evaluation. */
  async run(): Promise<[number, number]> {
    this.child.stdin.write('run\n');
    const [wall, cpu] = await this.expect('ms');
    return [wall!, cpu!];
  }
  send(line: string): void {
    this.child.stdin.write(`${line}\n`);
  }
  /** The JSON object of the next line that holds one (a side's result). */
  async json<T>(): Promise<T> {
    for (;;) {
      const next = await this.lines.next();
      if (next.done) throw new Error(`${this.label}: exited before its result`);
      if (next.value.startsWith('{')) {
        this.child.stdin.end();
        return JSON.parse(next.value) as T;
      }
    }
  }
  async quit(): Promise<number> {
    this.child.stdin.write('quit\n');
    const [peak] = await this.expect('peak');
    this.child.stdin.end();
    return peak!;
  }
}

interface GradientRow {
  name: string;
  /** Wall ms per evaluation. */
  ours: number[];
  torch: number[];
  /** CPU ms of the process per evaluation: steadier than wall time on a loaded machine. */
  oursCpu: number[];
  torchCpu: number[];
  ratios: number[];
  startup: [number, number];
  peak: [number, number];
  /** Peak RSS of the first process, which derives the gradient graph and fills the caches. */
  firstPeak: number;
}

async function gradient(python: string, name: string, env: NodeJS.ProcessEnv): Promise<GradientRow> {
  const args = [
    ...process.execArgv,
    fileURLToPath(import.meta.url),
    '--serve-grad',
    name,
    '--threads',
    String(threads),
    '--provider',
    provider,
    ...(values.spin ? ['--spin'] : []),
    '--warmup',
    values.warmup!,
  ];
  const first = spawnSync(process.execPath, [...args, '--prepare'], {
    encoding: 'utf8',
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (first.status !== 0) throw new Error(`${name}: the preparing process exited with ${first.status}`);
  const firstPeak = Number(/peak (\S+)/.exec(first.stdout)?.[1]);
  const ours = Side.start('fiberscope', process.execPath, args, env);
  const [oursReady] = await ours.expect('ready');
  // Started after ours is warm, so that the two start-ups do not share the cores.
  const torch = Side.start(
    'pytorch',
    python,
    [script, 'serve-grad', dir, name, ...torchDevice, '--warmup', values.warmup!],
    torchEnv,
  );
  const [torchReady] = await torch.expect('ready');
  const row: GradientRow = {
    name,
    ours: [],
    torch: [],
    oursCpu: [],
    torchCpu: [],
    ratios: [],
    startup: [oursReady!, torchReady!],
    peak: [0, 0],
    firstPeak,
  };
  for (let i = 0; i < Number(values.runs); i++) {
    // Alternating which goes first, so that neither always follows the other's cache traffic.
    let o: [number, number];
    let t: [number, number];
    if (i % 2) {
      t = await torch.run();
      o = await ours.run();
    } else {
      o = await ours.run();
      t = await torch.run();
    }
    row.ours.push(o[0]);
    row.torch.push(t[0]);
    row.oursCpu.push(o[1]);
    row.torchCpu.push(t[1]);
    row.ratios.push(t[0] / o[0]);
  }
  row.peak = [await ours.quit(), await torch.quit()];
  return row;
}

// ---- NDTM

interface NdtmResult {
  startup: number;
  run: number;
  steps: number[];
  guided: number[];
  peakMiB: number;
  finite: boolean;
}

interface Plan {
  k: number;
  innerSteps: number;
  terminalWeight: number;
  clip: [number, number];
  query: number[];
  steps: {
    t: number;
    gamma: number;
    lr: number;
    alphaBar: number;
    alphaBarNext: number;
    c1: number;
    c2: number;
  }[];
}

const priorDir = join(dir, 'ndtm', 'prior');
const extractorDir = join(dir, 'ndtm', 'extractor');

function samplerOptions(prior: OnnxFiberObjective['prior']) {
  return resolveSamplerOptions(
    { preset: 'chexpert-classifier', steps: Number(values.steps), innerSteps: Number(values['inner-steps']) },
    prior,
  );
}

function queryImage(size: number): Float32Array {
  return Float32Array.from({ length: size }, (_, i) => Math.sin(i * 0.37 + 2) * Math.cos(i * 0.011));
}

/** The per-step numbers the PyTorch loop needs, from the same functions the sampler uses. */
function plan(objective: OnnxFiberObjective): Plan {
  const options = samplerOptions(objective.prior);
  const schedule = objective.prior.schedule!;
  if (options.update.kind !== 'ddim') throw new Error('the plan is written for the DDIM update');
  const { eta, variance } = options.update;
  return {
    k: Number(values.k),
    innerSteps: options.innerSteps,
    terminalWeight: options.terminalWeight,
    clip: objective.prior.clip as [number, number],
    query: [...queryImage(sizeOf(objective.prior.imageShape))],
    steps: walk(timestepGrid(options.steps, schedule.timesteps)).map(({ i, t, s }) => {
      const c = ddimCoefficients(schedule.alphaBar(t), schedule.alphaBar(s), eta, variance);
      return {
        t,
        gamma: gammaAt(options.gamma, t),
        lr: learningRateAt(options.lr, i, options.steps),
        alphaBar: schedule.alphaBar(t),
        alphaBarNext: schedule.alphaBar(s),
        ...c,
      };
    }),
  };
}

async function serveNdtm(): Promise<void> {
  const [prior, extractor] = await Promise.all([loadPriorBundle(priorDir), loadExtractorBundle(extractorDir)]);
  // As `fiberscope sample` and the sampling workers do: derived graphs kept in the cache folder.
  const caches = engineCaches();
  const objective = await OnnxFiberObjective.create(prior, extractor, {
    runtime: { ...runtime, sessionCache: caches.sessions },
    gradientCache: caches.gradients,
  });
  const options = samplerOptions(objective.prior);
  const K = Number(values.k);
  const D = sizeOf(objective.prior.stateShape);
  // Start-up ends where the first step can begin: every graph derived (or read from the cache) and
  // every session made, nothing evaluated; first evaluations fall inside the run, as on PyTorch's side.
  await objective.prepare(K, { tau: options.tau });
  const startup = uptime();
  const steps: number[] = [];
  const guided: number[] = [];
  const runPlan = plan(objective);
  // In lockstep each step starts on a 'go' line, so that the driver alternates the two sides step by
  // step; the time spent waiting for it is left out of the run.
  const lines = values.lockstep ? createInterface({ input: process.stdin })[Symbol.asyncIterator]() : null;
  let waited = 0;
  const go = async (): Promise<void> => {
    if (!lines) return;
    const t = performance.now();
    process.stdout.write('wait\n');
    const next = await lines.next();
    if (next.done || next.value !== 'go')
      throw new Error(`lockstep: expected 'go', got ${next.done ? 'end of input' : next.value}`);
    waited += performance.now() - t;
  };
  await go();
  waited = 0;
  let last = performance.now();
  const t0 = last;
  const r = await sampleFiber(
    objective,
    [{ imageId: 'query', image: queryImage(D), sampleIndices: Array.from({ length: K }, (_, i) => i) }],
    options,
    {
      onStep: async (done, total) => {
        const s = (performance.now() - last) / 1000;
        steps.push(s);
        if (runPlan.steps[done - 1]!.gamma > 0) guided.push(s);
        if (lines) process.stdout.write(`step ${(1000 * s).toFixed(1)}\n`);
        if (done < total) await go();
        last = performance.now();
      },
    },
  );
  const result: NdtmResult = {
    startup,
    run: (performance.now() - t0 - waited) / 1000,
    steps,
    guided,
    peakMiB: peakRssMiB(),
    finite: r.finite.every(Boolean),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

function runJson(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): NdtmResult {
  const child = spawnSync(command, args, { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'inherit'] });
  if (child.status !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${child.status}`);
  return JSON.parse(child.stdout.trim().split('\n').pop()!) as NdtmResult;
}

type Command = [string, string[], NodeJS.ProcessEnv];

/** Runs two NDTM sides step by step: each waits ('wait') for a 'go' per step and reports 'step ms'. */
async function lockstep(a: Command, b: Command, steps: number): Promise<[NdtmResult, NdtmResult]> {
  const sides: Side[] = [];
  // Started one after the other, so that the two start-ups do not share the cores.
  for (const [label, [command, args, env]] of [
    ['fiberscope', a],
    ['pytorch', b],
  ] as const) {
    const side = Side.start(label, command, args, env);
    await side.expect('wait');
    sides.push(side);
  }
  for (let i = 0; i < steps; i++) {
    for (const side of i % 2 ? [...sides].reverse() : sides) {
      side.send('go');
      await side.expect('step');
      if (i < steps - 1) await side.expect('wait');
    }
  }
  const results = await Promise.all(sides.map((side) => side.json<NdtmResult>()));
  return [results[0]!, results[1]!];
}

async function ndtm(python: string): Promise<void> {
  const [prior, extractor] = await Promise.all([loadPriorBundle(priorDir), loadExtractorBundle(extractorDir)]);
  const objective = await OnnxFiberObjective.create(prior, extractor, { runtime: { intraOpThreads: 1 } });
  const work = await mkdtemp(join(tmpdir(), 'fiberscope-vs-pytorch-'));
  try {
    const planFile = join(work, 'plan.json');
    const p = plan(objective);
    writeFileSync(planFile, JSON.stringify(p));
    const env = { ...process.env, FIBERSCOPE_CACHE_DIR: join(work, 'cache') };
    const args = [...process.execArgv, fileURLToPath(import.meta.url), '--serve-ndtm', planFile];
    const pass = [
      '--threads',
      String(threads),
      '--provider',
      provider,
      '--steps',
      values.steps!,
      '--inner-steps',
      values['inner-steps']!,
    ];
    const first = runJson(process.execPath, [...args, ...pass, '--k', values.k!], env);
    const noArena = runJson(process.execPath, [...args, ...pass, '--k', values.k!, '--no-arena'], env);
    // The second run and PyTorch's in lockstep, step by step, the side going first alternating:
    // machine load then weighs on both alike, as on the gradient side.
    const [second, torch] = await lockstep(
      [process.execPath, [...args, ...pass, '--k', values.k!, '--lockstep'], env],
      [python, [script, 'ndtm', dir, planFile, ...torchDevice, '--lockstep'], torchEnv],
      p.steps.length,
    );
    const guidedSteps = p.steps.filter((s) => s.gamma > 0).length;
    console.log(
      `\nNDTM: chexpert-classifier preset, n=${p.steps.length} (${guidedSteps} guided) N=${p.innerSteps} K=${p.k}, ` +
        `UNet 64² prior + ResNet-18 at 224², ${provider === 'cpu' ? `${threads} threads` : `${provider} vs PyTorch on CUDA`}`,
    );
    const line = (label: string, r: NdtmResult) =>
      `  ${label.padEnd(22)} start-up ${r.startup.toFixed(2).padStart(6)} s, guided step ${range(
        r.guided.map((s) => 1000 * s),
      )} ms (first ${(1000 * r.guided[0]!).toFixed(0)}), run ${r.run.toFixed(2)} s, peak RSS ${r.peakMiB.toFixed(0)} MiB${r.finite ? '' : ' (NON-FINITE samples)'}`;
    console.log(line('fiberscope, first run', first));
    console.log(line('fiberscope, second run', second));
    console.log(line('second, arena off', noArena));
    console.log(line('PyTorch eager', torch));
    const best = second;
    console.log(
      `  ratio PyTorch/ours (second run): guided step ${(median(torch.guided) / median(best.guided)).toFixed(2)}×, ` +
        `whole run ${(torch.run / best.run).toFixed(2)}×, peak memory ours/PyTorch ${(best.peakMiB / torch.peakMiB).toFixed(2)}×; ` +
        `load average ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cores`,
    );
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

// ---- driver

async function exportsReady(python: string): Promise<void> {
  const stamp = join(dir, 'exported');
  if (existsSync(stamp) && statSync(stamp).mtimeMs >= statSync(script).mtimeMs) return;
  console.error(`exporting the PyTorch models into ${dir} (once)`);
  const r = spawnSync(python, [script, 'export', dir, '--threads', String(threads)], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`export failed (${python} ${script} export ${dir})`);
  writeFileSync(stamp, new Date().toISOString());
}

/**
 * The machine and both runtimes, printed first: the same code gives very different ratios on
 * different hosts (CPU generation, load), so every figure needs the host it was measured on.
 */
function machine(python: string): string {
  let generation = '';
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    const family = /^cpu family\s*:\s*(\d+)/m.exec(info)?.[1];
    const model = /^model\s*:\s*(\d+)/m.exec(info)?.[1];
    if (family) generation = ` (cpu family ${family}, model ${model ?? '?'})`;
  } catch {
    // not Linux: the model name alone
  }
  const ortPackage = join(here, '..', 'node_modules', 'onnxruntime-node', 'package.json');
  const ortVersion = existsSync(ortPackage)
    ? (JSON.parse(readFileSync(ortPackage, 'utf8')) as { version: string }).version
    : '?';
  const torch = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
  return (
    `machine: ${cpus()[0]?.model.trim() ?? 'unknown CPU'}${generation}, ${availableParallelism()} cores; ` +
    `onnxruntime-node ${ortVersion}; torch ${torch.status === 0 ? torch.stdout.trim() : '?'}`
  );
}

async function main(): Promise<void> {
  if (values['serve-grad']) return serveGrad(values['serve-grad']);
  if (values['serve-ndtm']) return serveNdtm();
  const venv = process.env['FIBERSCOPE_TORCH_VENV'];
  const python = venv ? join(venv, 'bin', 'python') : '';
  if (!venv || !existsSync(python)) {
    console.log(
      `vs-pytorch: skipped: set FIBERSCOPE_TORCH_VENV to a Python virtual environment with torch, torchvision, timm, ` +
        `diffusers and onnx installed${venv ? ` (${python} does not exist)` : ''}`,
    );
    return;
  }
  await exportsReady(python);
  console.log(machine(python));
  const only = values.only;
  const rows: GradientRow[] = [];
  const gradientWork = await mkdtemp(join(tmpdir(), 'fiberscope-vs-pytorch-grad-'));
  const gradientEnv = { ...process.env, FIBERSCOPE_CACHE_DIR: gradientWork };
  for (const name of GRADIENT_SUBJECTS.filter((n) => !only || n === only)) {
    const row = await gradient(python, name, gradientEnv);
    rows.push(row);
    console.log(
      `${name.padEnd(18)} ours ${range(row.ours).padStart(18)} ms  PyTorch ${range(row.torch).padStart(18)} ms  ` +
        `PyTorch/ours ${(median(row.torch) / median(row.ours)).toFixed(2)}× [pairs ${Math.min(...row.ratios).toFixed(2)}–${Math.max(
          ...row.ratios,
        ).toFixed(2)}]  start-up ${row.startup[0].toFixed(1)} / ${row.startup[1].toFixed(1)} s  ` +
        `peak RSS ${row.peak[0].toFixed(0)} / ${row.peak[1].toFixed(0)} MiB (ours deriving: ${row.firstPeak.toFixed(0)})\n` +
        `${''.padEnd(18)} CPU ms ours ${range(row.oursCpu)}  PyTorch ${range(row.torchCpu)}  ` +
        `PyTorch/ours ${(median(row.torchCpu) / median(row.oursCpu)).toFixed(2)}×`,
    );
  }
  await rm(gradientWork, { recursive: true, force: true });
  if (rows.length > 1) {
    const summary = (label: string, ratios: number[]) =>
      `${label} ${median(ratios).toFixed(2)}× (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})`;
    console.log(
      `input gradient, ${provider === 'cpu' ? `${threads} threads` : `${provider} vs PyTorch on CUDA`}, ${values.runs} alternating runs each, ` +
        `median PyTorch/ours over ${rows.length} models: ` +
        `${summary(
          'wall',
          rows.map((r) => median(r.torch) / median(r.ours)),
        )}, ` +
        `${summary(
          'CPU',
          rows.map((r) => median(r.torchCpu) / median(r.oursCpu)),
        )}; goal ≥ 1.5×; ` +
        `load average ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cores`,
    );
  }
  if (!only || only === 'ndtm') await ndtm(python);
}

await main();
