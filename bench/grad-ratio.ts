/**
 * Gradient/forward time ratio of derived VJP graphs on ONNX Runtime (CPU), for models built from
 * ops with gradient rules. Prints one line per model: forward ms, gradient ms (the gradient graph
 * also computes the forward pass), and their ratio.
 * Usage: node --import tsx bench/grad-ratio.ts  (BENCH_THREADS=n for n intra-op threads, 0 for the default)
 */
import { vjp } from '../engine/autodiff/vjp.ts';
import type { Model } from '../engine/onnx/index.ts';
import { closeSessions, openSession, resolveShapes, tensor } from '../engine/runtime/index.ts';
import type { HostTensor } from '../engine/runtime/index.ts';
import { mixer, mlp, random } from '../test/fixtures/models.ts';
import { vitModel } from '../test/fixtures/vit.ts';

/** Median times of two runs measured alternately, so that load from other processes hits both alike. */
async function medians(a: () => Promise<unknown>, b: () => Promise<unknown>, reps: number): Promise<[number, number]> {
  await a();
  await b();
  const ta: number[] = [];
  const tb: number[] = [];
  const time = async (run: () => Promise<unknown>, into: number[]): Promise<void> => {
    const t0 = process.hrtime.bigint();
    await run();
    into.push(Number(process.hrtime.bigint() - t0) / 1e6);
  };
  for (let i = 0; i < reps; i++) {
    await time(a, ta);
    await time(b, tb);
  }
  const mid = (t: number[]): number => t.sort((x, y) => x - y)[Math.floor(t.length / 2)]!;
  return [mid(ta), mid(tb)];
}

// One intra-op thread by default: ratios are steadier on a shared machine. BENCH_THREADS=0 lets onnxruntime choose.
const threads = Number(process.env['BENCH_THREADS'] ?? 1);
const runtime = threads > 0 ? { intraOpThreads: threads } : {};

async function measure(name: string, model: Model, dims: number[], reps: number): Promise<void> {
  const shapes = await resolveShapes(model, { x: dims });
  const gradient = vjp(model, { of: 'y', wrt: ['x'], shapes });
  const n = dims.reduce((p, q) => p * q, 1);
  const r = random(3);
  const x: HostTensor = tensor('float32', dims, Float32Array.from({ length: n }, r));
  const outDims = shapes.get('y')!.dims;
  const dy = tensor('float32', outDims, Float32Array.from({ length: outDims.reduce((p, q) => p * q, 1) }, r));
  const forward = await openSession(model, runtime);
  const backward = await openSession(gradient, runtime);
  const [f, g] = await medians(
    () => forward.run({ x }),
    () => backward.run({ x, d_y: dy }),
    reps,
  );
  console.log(
    `${name.padEnd(34)} forward ${f.toFixed(2).padStart(8)} ms  gradient ${g.toFixed(2).padStart(8)} ms  ratio ${(g / f).toFixed(2)}x  (${model.graph.nodes.length} -> ${gradient.graph.nodes.length} nodes)`,
  );
}

await measure('mixer 196x256, batch 4, depth 4', mixer(196, 256, 4, 4), [4, 196, 256], 21);
await measure('mixer 64x128, batch 8, depth 2', mixer(64, 128, 8, 2), [8, 64, 128], 61);
await measure('mlp 3072-1024, batch 32, depth 4', mlp(3072, 1024, 32, 4), [32, 3072], 41);
const vitSizes = { batch: 2, channels: 3, size: 224, patch: 16, width: 384, heads: 6, hidden: 1536, depth: 4 };
for (const decomposedLayerNorm of [false, true]) {
  await measure(
    `vit-s/16 depth 4, batch 2, ${decomposedLayerNorm ? 'ReduceMean' : 'fused'} LN`,
    vitModel({ opset: 17, dtype: 'float32', gelu: 'erf', decomposedLayerNorm, sizes: vitSizes }),
    [2, 3, 224, 224],
    11,
  );
}
await closeSessions();
