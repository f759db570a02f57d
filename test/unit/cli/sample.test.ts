import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { buildDemo } from '../../../engine/demo/build.ts';
import { encodePng } from '../../../store/images.ts';
import { readNpy } from '../../../store/npy.ts';
import { readSampleRows } from '../../../store/tables.ts';

const root = await mkdtemp(join(tmpdir(), 'fiberscope-cli-'));
const demo = await buildDemo(join(root, 'demo'));
const query = join(demo.dataset, (await readdir(demo.dataset)).sort()[0]!);
const extractor = demo.extractors[0]!.path;
const quick = ['--steps', '6', '--inner-steps', '1', '--lr', '0.03', '--update', 'ddim', '--variance', 'small', '--eta', '0'];

const bin = new URL('../../../bin/fiberscope.js', import.meta.url).pathname;

/** Runs the real `fiberscope` command in a child process (its stdout is its own). */
async function cli(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [bin, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
  return { code, stdout, stderr };
}

test('sample writes samples.npy, the PNGs and samples.arrow for K samples of one query', async () => {
  const out = join(root, 'out-ok');
  const r = await cli(['sample', '--prior', demo.prior, '--extractor', extractor, '--query', query, '--k', '3', ...quick, '--seed', '7', '--out', out, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const result = JSON.parse(r.stdout) as { ok: number; samples: number };
  assert.deepEqual([result.ok, result.samples], [3, 3]);
  const npy = readNpy(await readFile(join(out, 'samples.npy')));
  assert.deepEqual(npy.shape, [3, 1, 28, 28]);
  assert.ok(npy.data.every((v) => v >= -1 && v <= 1), "samples stay in the prior's range");
  const rows = readSampleRows(await readFile(join(out, 'samples.arrow')));
  assert.deepEqual(rows.map((x) => [x.sample_index, x.status, x.image_key]), [[0, 'ok', '0.png'], [1, 'ok', '1.png'], [2, 'ok', '2.png']]);
  for (const f of ['query.png', '0.png', '1.png', '2.png']) assert.ok(existsSync(join(out, f)), f);
  // The same seed gives the same samples.
  const again = join(root, 'out-again');
  assert.equal((await cli(['sample', '--prior', demo.prior, '--extractor', extractor, '--query', query, '--k', '3', ...quick, '--seed', '7', '--out', again, '--json'])).code, 0);
  assert.deepEqual(await readFile(join(again, 'samples.npy')), await readFile(join(out, 'samples.npy')));
});

test('a query of the wrong size is refused naming it, and nothing is written', async () => {
  const small = join(root, 'small.png');
  await writeFile(small, encodePng(new Float32Array(16 * 16), [1, 16, 16], [-1, 1]));
  const out = join(root, 'out-small');
  const r = await cli(['sample', '--prior', demo.prior, '--extractor', extractor, '--query', small, ...quick, '--out', out]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /small\.png.*expected 28×28 pixels, got 16×16/);
  assert.equal(existsSync(out), false);
});

test('a bundle naming a tensor its ONNX file lacks is refused at load, naming it', async () => {
  const bad = join(root, 'bad-extractor');
  await cp(extractor, bad, { recursive: true });
  const manifest = JSON.parse(await readFile(join(bad, 'fiberscope.json'), 'utf8')) as { model: { output: string } };
  manifest.model.output = 'logits';
  await writeFile(join(bad, 'fiberscope.json'), JSON.stringify(manifest));
  const r = await cli(['sample', '--prior', demo.prior, '--extractor', bad, '--query', query, ...quick, '--out', join(root, 'out-bad')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /model\.output.*'logits' is not an output of the model \(outputs: features\)/);
});

test('bad sampler flags are usage errors naming the flag', async () => {
  const base = ['sample', '--prior', demo.prior, '--extractor', extractor, '--query', query, ...quick, '--out', join(root, 'out-flags')];
  const gamma = await cli([...base, '--gamma', '[[1,2,3]]']);
  assert.equal(gamma.code, 2);
  assert.match(gamma.stderr, /--gamma/);
  const steps = await cli([...base, '--steps', '0']);
  assert.equal(steps.code, 2);
  assert.match(steps.stderr, /steps: expected an integer/);
  const probes = await cli([...base, '--probes', 'hflip,sideways']);
  assert.equal(probes.code, 2);
  assert.match(probes.stderr, /unknown probe sideways/);
});

test('models inspect validates a bundle and reports gradient coverage', async () => {
  const r = await cli(['models', 'inspect', demo.prior]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /prior bundle 'mnist-mirrored-mixture'/);
  assert.match(r.stdout, /every operator is covered/);
});

test('a prior that declares image.resize accepts a query of another size, resized', async () => {
  const resizing = join(root, 'prior-resize');
  await cp(demo.prior, resizing, { recursive: true });
  const manifest = JSON.parse(await readFile(join(resizing, 'fiberscope.json'), 'utf8')) as { image: Record<string, unknown> };
  manifest.image.resize = true;
  await writeFile(join(resizing, 'fiberscope.json'), JSON.stringify(manifest));
  const big = join(root, 'big.png');
  await writeFile(big, encodePng(new Float32Array(56 * 56).fill(-1), [1, 56, 56], [-1, 1]));
  const out = join(root, 'out-resized');
  const r = await cli(['sample', '--prior', resizing, '--extractor', extractor, '--query', big, '--k', '1', ...quick, '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(readNpy(await readFile(join(out, 'samples.npy'))).shape, [1, 1, 28, 28]);
});
