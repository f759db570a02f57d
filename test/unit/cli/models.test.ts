import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../../cli/main.ts';
import { captureStdout, tempDir, writeModel } from './fixtures.ts';

test('models inspect lists operators with counts, opsets and gradient coverage', async () => {
  const dir = tempDir();
  writeModel(join(dir, 'm.onnx'), { sideOp: 'Atan' });
  const r = await captureStdout(() => main(['models', 'inspect', join(dir, 'm.onnx')]));
  assert.equal(r.code, 0);
  assert.match(r.stdout, /opsets ai\.onnx 17/);
  assert.match(r.stdout, /MatMul\s+1\s+rule/);
  assert.match(r.stdout, /Atan\s+1\s+missing/);
  assert.match(r.stdout, /no rule for Atan/);
});

test('models inspect --json is machine-readable', async () => {
  const dir = tempDir();
  writeModel(join(dir, 'm.onnx'));
  const r = await captureStdout(() => main(['models', 'inspect', join(dir, 'm.onnx'), '--json']));
  const report = JSON.parse(r.stdout) as {
    operators: { op: string; count: number; gradient: string }[];
    missing: string[];
  };
  assert.deepEqual(
    report.operators.map((o) => [o.op, o.count, o.gradient]),
    [
      ['MatMul', 1, 'rule'],
      ['Mul', 1, 'rule'],
      ['Tanh', 1, 'rule'],
    ],
  );
  assert.deepEqual(report.missing, []);
});

test('models inspect refuses missing paths, non-bundle folders and non-models (exit 2)', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'notes.onnx'), 'hello');
  mkdirSync(join(dir, 'bundle'));
  writeFileSync(join(dir, 'bundle', 'fiberscope.json'), '{}');
  assert.equal(await main(['models', 'inspect', join(dir, 'absent.onnx')]), 2);
  assert.equal(await main(['models', 'inspect', dir]), 2);
  assert.equal(await main(['models', 'inspect', join(dir, 'notes.onnx')]), 2);
  assert.equal(await main(['models', 'inspect', join(dir, 'bundle')]), 2);
  assert.equal(await main(['models', 'list', join(dir, 'notes.onnx')]), 2);
});

test('models inspect --of --wrt lists the nodes on the gradient path without a rule', async () => {
  const dir = tempDir();
  writeModel(join(dir, 'm.onnx'), { sideOp: 'Atan' });
  const text = await captureStdout(() => main(['models', 'inspect', join(dir, 'm.onnx'), '--of', 'y', '--wrt', 'x']));
  assert.equal(text.code, 0);
  assert.match(text.stdout, /gradient of y wrt x: 1 nodes without a rule: Atan_node \(Atan\)/);
  const json = await captureStdout(() =>
    main(['models', 'inspect', join(dir, 'm.onnx'), '--of', 'y', '--wrt', 'x', '--json']),
  );
  const report = JSON.parse(json.stdout) as { gradientPath: { unsupported: { op: string; reason: string }[] } };
  assert.deepEqual(report.gradientPath.unsupported, [{ node: 'Atan_node', op: 'Atan', reason: 'no rule' }]);
  assert.equal(await main(['models', 'inspect', join(dir, 'm.onnx'), '--of', 'y']), 2);
  assert.equal(await main(['models', 'inspect', join(dir, 'm.onnx'), '--of', 'nope', '--wrt', 'x']), 2);
});
