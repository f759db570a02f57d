import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStore, ObjectNotFoundError, sanitizeKeyPart } from '../../store/objects.ts';
import type { ObjectStore } from '../../store/objects.ts';
import { s3Store, uniqueName } from './services.ts';

const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

/** The behaviour every ObjectStore must share, run against each backend. */
function storeContract(name: string, open: () => Promise<{ store: ObjectStore; close: () => Promise<void> }>): void {
  describe(name, () => {
    let store: ObjectStore;
    let close: () => Promise<void>;
    before(async () => ({ store, close } = await open()));
    after(async () => await close());

    test('put then get returns the same bytes, text and binary', async () => {
      const binary = new Uint8Array(70_000).map((_, i) => (i * 131 + 7) & 0xff);
      await store.put('runs/r1/blob.bin', binary);
      await store.put('runs/r1/manifest.json', '{"ok":true}', 'application/json');
      assert.deepEqual(await store.get('runs/r1/blob.bin'), binary);
      assert.equal(text(await store.get('runs/r1/manifest.json')), '{"ok":true}');
    });

    test('a second put overwrites', async () => {
      await store.put('runs/r1/over.txt', 'first, longer value');
      await store.put('runs/r1/over.txt', 'second');
      assert.equal(text(await store.get('runs/r1/over.txt')), 'second');
    });

    test('exists, list by prefix, delete', async () => {
      const id = sanitizeKeyPart('photos/cat 1.jpg');
      for (const k of ['0.png', '1.png', 'query.png']) await store.put(`runs/r2/images/${id}/${k}`, k);
      await store.put('runs/r20/other.txt', 'x');
      assert.equal(await store.exists(`runs/r2/images/${id}/0.png`), true);
      assert.equal(await store.exists('runs/r2/images/none.png'), false);
      assert.deepEqual(await store.list('runs/r2/'), [`runs/r2/images/${id}/0.png`, `runs/r2/images/${id}/1.png`, `runs/r2/images/${id}/query.png`]);
      assert.deepEqual(await store.list(`runs/r2/images/${id}/q`), [`runs/r2/images/${id}/query.png`]);
      assert.deepEqual(await store.list('runs/none/'), []);
      await store.delete(`runs/r2/images/${id}/1.png`);
      await store.delete(`runs/r2/images/${id}/1.png`);
      assert.equal(await store.exists(`runs/r2/images/${id}/1.png`), false);
      assert.deepEqual(await store.list('runs/r2/'), [`runs/r2/images/${id}/0.png`, `runs/r2/images/${id}/query.png`]);
    });

    test('get of a missing key is ObjectNotFoundError naming the key', async () => {
      await assert.rejects(store.get('runs/none/x.arrow'), (err: unknown) => err instanceof ObjectNotFoundError && err.key === 'runs/none/x.arrow');
    });
  });
}

storeContract('S3Store on the services bucket', async () => {
  const store = await s3Store(uniqueName('test/object-stores'));
  return {
    store,
    close: async () => {
      for (const key of await store.list('')) await store.delete(key);
      assert.deepEqual(await store.list(''), []);
      store.client.destroy();
    },
  };
});

storeContract('FileStore on a temporary folder', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'fiberscope-it-'));
  return { store: new FileStore(dir), close: async () => await rm(dir, { recursive: true, force: true }) };
});
