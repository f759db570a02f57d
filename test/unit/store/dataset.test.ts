import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readRunImages, writeRunListing } from '../../../activities/listing.ts';
import { InputError } from '../../../engine/errors.ts';
import type { RunConfig } from '../../../runs/manifest.ts';
import { datasetEntries, listDataset } from '../../../store/dataset.ts';
import type { DatasetEntry } from '../../../store/dataset.ts';
import { runLayout } from '../../../store/layout.ts';
import { FileStore } from '../../../store/objects.ts';

const root = await mkdtemp(join(tmpdir(), 'fiberscope-dataset-'));

test('a folder is listed in the byte order of its relative paths, as S3 lists keys', async () => {
  const dir = join(root, 'folder');
  for (const sub of ['a', 'a-b', 'b']) await mkdir(join(dir, sub), { recursive: true });
  for (const f of ['a/x.png', 'a-b/x.png', 'a.png', 'a-c.png', 'b/Z.jpg', 'b/a.npy', 'notes.txt']) await writeFile(join(dir, f), '');
  const keys = (await listDataset(dir)).map((e) => e.key);
  const expected = ['a-b/x.png', 'a-c.png', 'a.png', 'a/x.png', 'b/Z.jpg', 'b/a.npy'];
  assert.deepEqual(keys, expected);
  assert.deepEqual([...expected].sort((p, q) => Buffer.compare(Buffer.from(p), Buffer.from(q))), expected);
});

test('a manifest is streamed in its line order; a shared id names both images; an empty one is refused', async () => {
  const lines = Array.from({ length: 5000 }, (_, i) => JSON.stringify({ id: `img-${4999 - i}`, path: 'q.png' }));
  await writeFile(join(root, 'big.jsonl'), lines.join('\n') + '\n# a comment\n');
  let n = 0;
  let first: DatasetEntry | undefined;
  for await (const e of datasetEntries(join(root, 'big.jsonl'))) {
    first ??= e;
    n += 1;
  }
  assert.deepEqual([n, first], [5000, { imageId: 'img-4999', key: 'q.png' }]);
  await writeFile(join(root, 'dup.txt'), 'x/a.png\nb.png\nx/a.jpg\n');
  await assert.rejects(listDataset(join(root, 'dup.txt')), (e: unknown) => e instanceof InputError && /two images share the id 'x\/a': x\/a\.png and x\/a\.jpg/.test(e.message));
  await writeFile(join(root, 'empty.txt'), '# nothing\n');
  await assert.rejects(listDataset(join(root, 'empty.txt'), 'reference'), (e: unknown) => e instanceof InputError && e.input === 'reference' && /no images/.test(e.message));
});

test('a run listing is written in pages and read back by range across pages; older runs read images.json', async () => {
  const store = new FileStore(join(root, 'store'));
  const entries = Array.from({ length: 10 }, (_, i) => ({ imageId: `i${i}`, key: `i${i}.png` }));
  async function* stream() {
    yield* entries;
  }
  assert.equal(await writeRunListing(store, 'paged', stream(), 8, 3), 8);
  assert.deepEqual(await store.list(`${runLayout('paged').base}/listing/`), [0, 3, 6].map(runLayout('paged').listingPage));
  const config = { runId: 'paged', imageCount: 8, listing: { pageSize: 3 } } as RunConfig;
  for (const [start, end] of [[0, 8], [2, 7], [3, 6], [7, 8], [4, 4]] as const) {
    assert.deepEqual(await readRunImages(store, config, start, end), entries.slice(start, end), `${start}..${end}`);
  }
  await assert.rejects(readRunImages(store, config, 5, 9), /outside the run's 8 images/);
  await store.put(runLayout('old').images, JSON.stringify(entries));
  assert.deepEqual(await readRunImages(store, { runId: 'old', imageCount: 10 } as RunConfig, 4, 9), entries.slice(4, 9));
});

test('a listing that fails part way leaves no pages behind', async () => {
  const store = new FileStore(join(root, 'store'));
  async function* failing() {
    for (let i = 0; i < 7; i++) yield { imageId: `i${i}`, key: `i${i}.png` };
    throw new InputError('dataset', 'bad line');
  }
  await assert.rejects(writeRunListing(store, 'failed', failing(), Infinity, 3), /bad line/);
  assert.deepEqual(await store.list(`${runLayout('failed').base}/`), []);
});
