import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../../cli/main.ts';
import { loadModel } from '../../../engine/onnx/index.ts';
import { openSession, tensor } from '../../../engine/runtime/index.ts';
import { captureStdout, tempDir, writeModel } from './fixtures.ts';

test('grad writes a gradient model that computes the VJP', async () => {
  const dir = tempDir();
  writeModel(join(dir, 'm.onnx'));
  const out = join(dir, 'm.vjp.onnx');
  const r = await captureStdout(() =>
    main(['grad', '--model', join(dir, 'm.onnx'), '--of', 'y', '--wrt', 'x', '--out', out, '--json']),
  );
  assert.equal(r.code, 0);
  const summary = JSON.parse(r.stdout) as { inputs: string[]; outputs: string[]; shapes: string };
  assert.deepEqual(summary.inputs, ['x', 'd_y']);
  assert.deepEqual(summary.outputs, ['y', 'd_x']);
  assert.equal(summary.shapes, 'static');
  const s = await openSession(loadModel(out));
  // Only x[0][0] varies: y00 = tanh(x00) x00, so d_x00 = (1 - tanh² x00) x00 + tanh x00.
  const x = [0.5, 0, 0, 0, 0, 0];
  const res = await s.run({ x: tensor('float32', [2, 3], x), d_y: tensor('float32', [2, 3], [1, 0, 0, 0, 0, 0]) });
  const t = Math.tanh(0.5);
  assert.ok(Math.abs(Number(res['d_x']!.data[0]) - ((1 - t * t) * 0.5 + t)) < 1e-6);
});

test('symbolic dims: dynamic without --shape, static with it', async () => {
  const dir = tempDir();
  writeModel(join(dir, 'm.onnx'), { dims: ['batch', 3] });
  const base = ['grad', '--model', join(dir, 'm.onnx'), '--of', 'y', '--wrt', 'x', '--json'];
  const dyn = await captureStdout(() => main([...base, '--out', join(dir, 'a.onnx')]));
  assert.equal(dyn.code, 0);
  assert.match(dyn.stdout, /dynamic/);
  const stat = await captureStdout(() => main([...base, '--out', join(dir, 'b.onnx'), '--shape', 'x=4,3']));
  assert.match(stat.stdout, /"static"/);
});

async function refusedWithoutWriting(args: (dir: string) => string[], setup?: (dir: string) => void): Promise<void> {
  const dir = tempDir();
  writeModel(join(dir, 'm.onnx'), { sideOp: 'Atan' });
  setup?.(dir);
  const before = readdirSync(dir).sort();
  const code = await main(args(dir));
  assert.equal(code, 2);
  assert.deepEqual(readdirSync(dir).sort(), before, 'nothing written');
}

const grad = (dir: string, ...rest: string[]): string[] => ['grad', '--out', join(dir, 'g.onnx'), ...rest];

test('bad input exits 2 and writes nothing', async () => {
  const m = (dir: string): string => join(dir, 'm.onnx');
  await refusedWithoutWriting((d) => grad(d, '--model', m(d), '--of', 'nope', '--wrt', 'x'));
  await refusedWithoutWriting((d) => grad(d, '--model', m(d), '--of', 'y', '--wrt', 'W'));
  await refusedWithoutWriting((d) => grad(d, '--model', m(d), '--of', 'y', '--wrt', 'x')); // Atan has no rule
  await refusedWithoutWriting((d) => grad(d, '--model', m(d), '--of', 'y', '--wrt', 'x', '--shape', 'q=1'));
  await refusedWithoutWriting(
    (d) => grad(d, '--model', join(d, 'bad.onnx'), '--of', 'y', '--wrt', 'x'),
    (d) => writeFileSync(join(d, 'bad.onnx'), 'GIF89a not a model'),
  );
  await refusedWithoutWriting((d) => grad(d, '--model', join(d, 'absent.onnx'), '--of', 'y', '--wrt', 'x'));
  await refusedWithoutWriting((d) => ['grad', '--model', m(d), '--of', 'y', '--wrt', 'x', '--out', m(d)]);
  await refusedWithoutWriting((d) => ['grad', '--model', m(d), '--of', 'y']);
});

test('--opset converts an old export before deriving', async () => {
  const dir = tempDir();
  writeModel(join(dir, 'old.onnx'), { opset: 9 });
  const args = ['grad', '--model', join(dir, 'old.onnx'), '--of', 'y', '--wrt', 'x', '--out', join(dir, 'g.onnx')];
  assert.equal(await main(args), 2);
  assert.equal((await captureStdout(() => main([...args, '--opset', '11']))).code, 0);
  assert.equal(loadModel(join(dir, 'g.onnx')).opsets[''], 11);
  assert.equal(await main([...args, '--opset', '8']), 2);
});

test('--external-data writes the initializers beside the gradient model', async () => {
  const dir = tempDir();
  writeModel(join(dir, 'm.onnx'));
  const code = await captureStdout(() =>
    main([
      'grad',
      '--model',
      join(dir, 'm.onnx'),
      '--of',
      'y',
      '--wrt',
      'x',
      '--out',
      join(dir, 'g.onnx'),
      '--external-data',
    ]),
  );
  assert.equal(code.code, 0);
  assert.ok(
    existsSync(join(dir, 'g.onnx.data')) ||
      !loadModel(join(dir, 'g.onnx')).graph.initializers.some((t) => t.raw.length >= 1024),
  );
});
