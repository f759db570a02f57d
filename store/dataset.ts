import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join, relative, resolve, sep } from 'node:path';
import { createInterface } from 'node:readline';
import { InputError } from '../engine/errors.ts';
import { openStore } from './objects.ts';
import type { ObjectStore, S3Store } from './objects.ts';

/** One image of a dataset: a stable id (its relative path without extension) and where to read it. */
export interface DatasetEntry {
  imageId: string;
  /** A path relative to the dataset root (folders), or a key under the S3 prefix. */
  key: string;
}

const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.npy']);

function idOf(path: string): string {
  const ext = extname(path);
  return (ext ? path.slice(0, -ext.length) : path).split(sep).join('/');
}

const isImage = (path: string) => IMAGE_EXTENSIONS.has(extname(path).toLowerCase());

/**
 * Image paths under `dir` relative to `root`, depth first in the UTF-8 byte order of the whole relative
 * path (the order S3 lists keys in): a directory sorts as its name plus '/'. Holds one directory at a time.
 */
async function* walk(root: string, dir: string): AsyncGenerator<string> {
  const entries = (await readdir(dir, { withFileTypes: true }))
    .filter((e) => e.isDirectory() || (e.isFile() && isImage(e.name)))
    .map((e) => ({ e, order: Buffer.from(e.isDirectory() ? `${e.name}/` : e.name) }))
    .sort((a, b) => Buffer.compare(a.order, b.order));
  for (const { e } of entries) {
    const full = join(dir, e.name);
    if (e.isDirectory()) yield* walk(root, full);
    else yield relative(root, full);
  }
}

async function* manifestEntries(spec: string): AsyncGenerator<DatasetEntry> {
  const jsonl = spec.endsWith('.jsonl');
  const lines = createInterface({ input: createReadStream(spec, 'utf8'), crlfDelay: Infinity });
  let n = 0;
  for await (const raw of lines) {
    n += 1;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (!jsonl) {
      yield { imageId: idOf(line), key: line };
      continue;
    }
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch (err) {
      throw new InputError(`${spec}:${n}`, 'expected a JSON object per line', { cause: err });
    }
    const { id, path } = (row ?? {}) as { id?: unknown; path?: unknown };
    if (typeof path !== 'string') throw new InputError(`${spec}:${n}`, 'expected {"id": string?, "path": string}');
    yield { imageId: typeof id === 'string' && id !== '' ? id : idOf(path), key: path };
  }
}

/** The entries of a dataset in its listing order, unchecked. */
async function* rawEntries(spec: string, input: string): AsyncGenerator<DatasetEntry> {
  if (spec.startsWith('s3://')) {
    for await (const keys of (openStore(spec) as S3Store).listPages('')) {
      for (const key of keys) if (isImage(key)) yield { imageId: idOf(key), key };
    }
    return;
  }
  const info = await stat(spec).catch((err: unknown) => {
    throw new InputError(input, `expected a folder of images, a manifest file or s3://bucket/prefix; cannot read '${spec}'`, { cause: err });
  });
  if (info.isDirectory()) {
    for await (const key of walk(resolve(spec), resolve(spec))) yield { imageId: idOf(key), key };
  } else {
    yield* manifestEntries(spec);
  }
}

/**
 * 64-bit hashes of the ids seen so far in open-addressed typed arrays: 16 bytes per image rather than the
 * ids themselves, so checking a listing of millions of images for duplicate ids stays small.
 */
class IdHashes {
  private slots = new Uint32Array(2 << 12);
  private size = 0;
  /** Adds the id's hash; false when that hash was already there (the same id, or rarely another). */
  add(id: string): boolean {
    if (2 * (this.size + 1) > this.slots.length / 2) this.grow();
    const digest = createHash('sha256').update(id, 'utf8').digest();
    // 0 marks an empty slot, so a hash half of 0 is stored as 1.
    return this.insert(digest.readUInt32LE(0) || 1, digest.readUInt32LE(4) || 1);
  }
  private insert(hi: number, lo: number): boolean {
    const mask = this.slots.length / 2 - 1;
    for (let i = lo & mask; ; i = (i + 1) & mask) {
      const h = this.slots[2 * i]!;
      if (h === 0) {
        this.slots[2 * i] = hi;
        this.slots[2 * i + 1] = lo;
        this.size += 1;
        return true;
      }
      if (h === hi && this.slots[2 * i + 1] === lo) return false;
    }
  }
  private grow(): void {
    const old = this.slots;
    this.slots = new Uint32Array(old.length * 2);
    this.size = 0;
    for (let i = 0; i < old.length; i += 2) if (old[i] !== 0) this.insert(old[i]!, old[i + 1]!);
  }
}

/**
 * Streams a dataset: a folder of PNG/JPEG/.npy files (recursive), an `s3://bucket/prefix` (listed page
 * by page with ListObjectsV2 continuation), or a manifest file read line by line (`.txt` with one path
 * per line, or `.jsonl` with {"id", "path"} per line; paths relative to the manifest). The order is the
 * listing's, the same on every listing: S3 keys and folder paths in UTF-8 byte order of the path under
 * the dataset root, a manifest in its line order. Two images with one id and an empty dataset are
 * refused; nothing but one directory (or one S3 page) and a hash per image is held.
 */
export async function* datasetEntries(spec: string, input = 'dataset'): AsyncGenerator<DatasetEntry> {
  const hashes = new IdHashes();
  let count = 0;
  for await (const entry of rawEntries(spec, input)) {
    if (!hashes.add(entry.imageId)) {
      // A second pass tells a shared id from a hash collision and names both images.
      const keys: string[] = [];
      for await (const e of rawEntries(spec, input)) if (e.imageId === entry.imageId) keys.push(e.key);
      if (keys.length > 1) throw new InputError(input, `two images share the id '${entry.imageId}': ${keys[0]} and ${keys[1]}`);
    }
    count += 1;
    yield entry;
  }
  if (count === 0) throw new InputError(input, `no images (.png, .jpg, .jpeg, .npy) found in '${spec}'`);
}

/** Every entry of a dataset in memory, in listing order: for sets that are small by nature (a reference set). */
export async function listDataset(spec: string, input = 'dataset'): Promise<DatasetEntry[]> {
  const entries: DatasetEntry[] = [];
  for await (const e of datasetEntries(spec, input)) entries.push(e);
  return entries;
}

/** One store per S3 dataset for the life of the process: a client per image would open a connection per image. */
const s3Datasets = new Map<string, ObjectStore>();

/** Reads one dataset entry's bytes. */
export async function readDatasetEntry(spec: string, entry: DatasetEntry): Promise<Uint8Array> {
  if (spec.startsWith('s3://')) {
    let store = s3Datasets.get(spec);
    if (store === undefined) s3Datasets.set(spec, (store = openStore(spec)));
    return store.get(entry.key);
  }
  const info = await stat(spec);
  const root = info.isDirectory() ? resolve(spec) : resolve(spec, '..');
  const path = resolve(root, entry.key);
  if (!path.startsWith(root + sep)) throw new InputError(`dataset entry ${entry.imageId}`, `path '${entry.key}' leaves the dataset folder`);
  return readFile(path);
}
