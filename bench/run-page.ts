/**
 * The dashboard's run page for a run of 5,000 images × 4 samples against one of 500: server time
 * (the first view reads the run's tables; later views render one page from memory) and page size.
 * Paged, a view's time and size must not grow with the run. Tables are written directly
 * (test/fixtures/runs.ts), not sampled.
 *
 *   node --import tsx bench/run-page.ts
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStore } from '../store/objects.ts';
import { startDashboard } from '../serve/server.ts';
import { writeSyntheticRun } from '../test/fixtures/runs.ts';

const SIZES = [500, 5000];
const K = 4;
const WARM = 7;

const root = await mkdtemp(join(tmpdir(), 'fiberscope-bench-run-page-'));
const store = new FileStore(root);
for (const n of SIZES) {
  const t = performance.now();
  await writeSyntheticRun(store, { runId: `run-${n}`, images: n, samplesPerImage: K, failure: (i, k) => (i % 97 === 0 && k === 0 ? 'NaN in the sample' : null) });
  console.log(`wrote run-${n}: ${n} images × ${K} samples in ${((performance.now() - t) / 1000).toFixed(1)} s`);
}
const dashboard = await startDashboard({ store, temporal: null, host: '127.0.0.1', port: 0 });

async function view(path: string): Promise<{ ms: number; bytes: number }> {
  const t = performance.now();
  const res = await fetch(dashboard.url + path.slice(1));
  const body = await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`${path}: HTTP ${res.status}`);
  return { ms: performance.now() - t, bytes: body.byteLength };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rows: { n: number; cold: number; warm: number; middle: number; bytes: number }[] = [];
for (const n of SIZES) {
  const cold = await view(`/runs/run-${n}/`);
  const warm: number[] = [];
  const middle: number[] = [];
  let bytes = 0;
  for (let i = 0; i < WARM; i++) {
    const a = await view(`/runs/run-${n}/`);
    warm.push(a.ms);
    bytes = a.bytes;
    middle.push((await view(`/runs/run-${n}/?page=${Math.ceil(n / 48)}`)).ms);
  }
  rows.push({ n, cold: cold.ms, warm: median(warm), middle: median(middle), bytes });
}
await dashboard.close();
await rm(root, { recursive: true, force: true });

console.log('\nrun page (24 images a page), server time over HTTP on loopback');
console.log('images × samples | first view (reads tables) | later view, page 1 | later view, middle page | page size');
for (const r of rows) {
  console.log(`${String(r.n).padStart(6)} × ${K}       | ${r.cold.toFixed(0).padStart(8)} ms               | ${r.warm.toFixed(1).padStart(8)} ms        | ${r.middle.toFixed(1).padStart(8)} ms             | ${(r.bytes / 1024).toFixed(1)} KiB`);
}
const [small, large] = rows as [(typeof rows)[number], (typeof rows)[number]];
console.log('(the page lists at most 50 error rows: the larger run fills them, the smaller has 6)');
console.log(`5000 vs 500: later view time ×${(large.warm / small.warm).toFixed(2)}, page size ×${(large.bytes / small.bytes).toFixed(3)}, first view ×${(large.cold / small.cold).toFixed(1)} (the tables are read once per run)`);
