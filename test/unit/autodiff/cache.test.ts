import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GRADIENT_FILE, cachedGradient } from '../../../engine/autodiff/cache.ts';
import { vjp } from '../../../engine/autodiff/vjp.ts';
import type { Model } from '../../../engine/onnx/index.ts';
import { closeSessions, openSession, resolveShapes, tensor } from '../../../engine/runtime/index.ts';
import { mlp } from '../../fixtures/models.ts';

async function gradientOf(source: Model | string, x: Float32Array): Promise<Float32Array> {
  const s = await openSession(source);
  const out = await s.run({
    x: tensor('float32', [4, 8], x),
    d_y: tensor('float32', [4, 6], new Float32Array(24).fill(1)),
  });
  return out['d_x']!.data as Float32Array;
}

test('a derived gradient graph is stored once and served from the folder after, by content', async () => {
  const folder = await mkdtemp(join(tmpdir(), 'fiberscope-gradients-'));
  try {
    const forward = mlp(8, 6, 4, 2);
    let derivations = 0;
    const derive = async (): Promise<Model> => {
      derivations += 1;
      return vjp(forward, { of: 'y', wrt: ['x'], shapes: await resolveShapes(forward, {}) });
    };
    const request = { of: 'y', wrt: 'x' };
    // A miss derives, stores and hands on the stored file, as a hit does.
    const first = await cachedGradient(folder, forward, request, derive);
    assert.equal(typeof first, 'string');
    const second = await cachedGradient(folder, forward, request, derive);
    assert.equal(second, first);
    assert.equal(derivations, 1);
    assert.ok(existsSync(second as string) && (second as string).endsWith(GRADIENT_FILE));
    // Initializers go beside the model; nothing half-written is left.
    const [key] = await readdir(folder);
    assert.deepEqual((await readdir(join(folder, key!))).sort(), [GRADIENT_FILE, `${GRADIENT_FILE}.data`]);
    assert.equal((await readdir(folder)).length, 1);

    const x = Float32Array.from({ length: 32 }, (_, i) => Math.sin(i));
    const fromMemory = await gradientOf(await derive(), x);
    const fromDisk = await gradientOf(second as string, x);
    assert.ok(fromMemory.some((v) => v !== 0));
    assert.deepEqual(fromDisk, fromMemory);

    // Another request or other weights miss the cache.
    await cachedGradient(folder, forward, { ...request, inputDims: { x: [4, 8] } }, derive);
    await cachedGradient(folder, mlp(8, 6, 4, 3), request, derive);
    assert.equal(derivations, 4);
    assert.equal((await readdir(folder)).length, 3);
    // No folder: derived every time.
    assert.equal(typeof (await cachedGradient(undefined, forward, request, derive)), 'object');
    assert.equal(derivations, 5);
  } finally {
    await closeSessions();
    await rm(folder, { recursive: true, force: true });
  }
});
