import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { saveModel } from '../../../engine/onnx/index.ts';
import type { Model } from '../../../engine/onnx/index.ts';
import { closeSessions, openSession, tensor } from '../../../engine/runtime/index.ts';
import type { RuntimeOptions } from '../../../engine/runtime/index.ts';
import { SESSION_CACHE_ENTRIES, SESSION_FILE } from '../../../engine/runtime/session-cache.ts';
import { resnetStage } from '../../fixtures/cnn.ts';
import { mlp } from '../../fixtures/models.ts';

const pixels = Float32Array.from({ length: 3 * 32 * 32 }, (_, i) => Math.sin(i * 0.37) * Math.cos(i * 0.013));

async function logits(source: Model | string, options: RuntimeOptions): Promise<Float32Array> {
  const s = await openSession(source, options);
  const out = await s.run({ pixels: tensor('float32', [1, 3, 32, 32], pixels) });
  return out['logits']!.data as Float32Array;
}

async function entries(folder: string): Promise<string[]> {
  return existsSync(folder) ? (await readdir(folder)).sort() : [];
}

async function withFolder(body: (folder: string) => Promise<void>): Promise<void> {
  const folder = await mkdtemp(join(tmpdir(), 'fiberscope-sessions-'));
  try {
    await body(folder);
  } finally {
    await closeSessions();
    await rm(folder, { recursive: true, force: true });
  }
}

test('a session cache stores the optimized model once and serves later processes the same outputs', async () => {
  await withFolder(async (folder) => {
    const expected = await logits(resnetStage(), {});
    assert.ok(expected.some((v) => v !== 0));
    await closeSessions();

    const cached = { sessionCache: join(folder, 'sessions') };
    assert.deepEqual(await logits(resnetStage(), cached), expected);
    const [key, ...rest] = await entries(cached.sessionCache);
    assert.equal(rest.length, 0, 'one entry, nothing half-written left');
    assert.deepEqual(await readdir(join(cached.sessionCache, key!)), [SESSION_FILE, `${SESSION_FILE}.data`].sort());
    // The saved model is onnxruntime's optimized graph, not the model given (its Convs are fused or re-laid out).
    const saved = readFileSync(join(cached.sessionCache, key!, SESSION_FILE));
    assert.ok(saved.includes(Buffer.from('com.microsoft')), 'the saved graph is the optimized one');

    // A later process (sessions closed) opens the entry: same outputs, no new entry.
    await closeSessions();
    assert.deepEqual(await logits(resnetStage(), cached), expected);
    assert.deepEqual(await entries(cached.sessionCache), [key]);

    // Other session options are another entry.
    await closeSessions();
    assert.deepEqual(await logits(resnetStage(), { ...cached, intraOpThreads: 1 }), expected);
    assert.equal((await entries(cached.sessionCache)).length, 2);
  });
});

test('a broken session-cache entry is replaced, and an unwritable folder only costs the saving', async () => {
  await withFolder(async (folder) => {
    const cached = { sessionCache: join(folder, 'sessions') };
    const expected = await logits(resnetStage(), cached);
    const [key] = await entries(cached.sessionCache);
    const file = join(cached.sessionCache, key!, SESSION_FILE);
    await closeSessions();
    writeFileSync(file, 'not a model');
    assert.deepEqual(await logits(resnetStage(), cached), expected);
    assert.notEqual(readFileSync(file, 'utf8'), 'not a model', 'the entry was written again');

    // A cache path where no folder can be made (a file): the session opens and answers the same.
    await closeSessions();
    const blocked = join(folder, 'blocked');
    writeFileSync(blocked, '');
    assert.deepEqual(await logits(resnetStage(), { sessionCache: blocked }), expected);
    assert.equal(readFileSync(blocked, 'utf8'), '');
  });
});

test('a model given as a file is keyed by its bytes and by the files beside it (its external data)', async () => {
  await withFolder(async (folder) => {
    const cached = { sessionCache: join(folder, 'sessions') };
    const path = join(folder, 'model', 'net.onnx');
    mkdirSync(join(folder, 'model'));
    saveModel(resnetStage(), path, { externalData: { location: 'net.onnx.data' } });
    const expected = await logits(path, cached);
    assert.equal((await entries(cached.sessionCache)).length, 1);
    await closeSessions();
    assert.deepEqual(await logits(path, cached), expected);
    assert.equal((await entries(cached.sessionCache)).length, 1);

    // Other weights under the same graph file: a new entry, and the new weights' outputs.
    const other = resnetStage();
    const fc = other.graph.initializers.find((t) => t.name.includes('fc_b'))!;
    const bias = new Float32Array(fc.raw.slice().buffer);
    bias[0]! += 1;
    fc.raw = new Uint8Array(bias.buffer);
    saveModel(other, path, { externalData: { location: 'net.onnx.data' } });
    await closeSessions();
    const changed = await logits(path, cached);
    assert.ok(Math.abs(changed[0]! - expected[0]! - 1) < 1e-5, 'the changed weights are the ones used');
    assert.equal((await entries(cached.sessionCache)).length, 2);
  });
});

test(`a session cache keeps its ${SESSION_CACHE_ENTRIES} most recently used entries`, async () => {
  await withFolder(async (folder) => {
    const cached = { sessionCache: join(folder, 'sessions') };
    const first = await openSession(mlp(8, 6, 4, 1), cached);
    assert.ok(first);
    for (let depth = 2; depth <= SESSION_CACHE_ENTRIES + 2; depth++) {
      // Entries are ordered by last use at a millisecond clock: keep the writes apart.
      await new Promise((r) => setTimeout(r, 5));
      await openSession(mlp(8, 6, 4, depth), cached);
    }
    const left = await entries(cached.sessionCache);
    assert.equal(left.length, SESSION_CACHE_ENTRIES);
    // The oldest ones went: opening depth 1 again makes a new entry (and drops the next oldest).
    await closeSessions();
    const before = new Set(left);
    await openSession(mlp(8, 6, 4, 1), cached);
    const after = await entries(cached.sessionCache);
    assert.equal(after.length, SESSION_CACHE_ENTRIES);
    assert.equal(after.filter((k) => !before.has(k)).length, 1);
  });
});

test('an entry keeps the weights as the graph holds them, not pre-packed (reloaded, those crashed a ConvNeXt)', async () => {
  await withFolder(async (folder) => {
    const cached = { sessionCache: join(folder, 'sessions') };
    const net = mlp(96, 384, 4, 3);
    const x = tensor(
      'float32',
      [4, 96],
      Float32Array.from({ length: 384 }, (_, i) => Math.sin(i * 0.7)),
    );
    const run = async (options: RuntimeOptions) => (await (await openSession(net, options)).run({ x }))['y']!.data;
    const expected = await run({});
    await closeSessions();
    assert.deepEqual(await run(cached), expected);
    const [key] = await entries(cached.sessionCache);
    // onnxruntime names saved pre-packed Gemm/MatMul weights prepacked_N, in the graph and its data file.
    const saved = readFileSync(join(cached.sessionCache, key!, SESSION_FILE));
    assert.ok(!saved.includes(Buffer.from('prepacked_')), 'no pre-packed weights are saved');
    await closeSessions();
    assert.deepEqual(await run(cached), expected);
  });
});
