import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join, relative, resolve, sep } from 'node:path';
import { InputError } from '../engine/errors.ts';
import { openStore } from './objects.ts';

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

async function walk(root: string, dir: string, out: string[]): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  for (const e of entries) {
    const full = join(dir, e.name);
    if (e.isDirectory()) await walk(root, full, out);
    else if (e.isFile() && IMAGE_EXTENSIONS.has(extname(e.name).toLowerCase())) out.push(relative(root, full));
  }
}

/**
 * Lists a dataset: a folder of PNG/JPEG/.npy files (recursive), an `s3://bucket/prefix`, or a
 * manifest file (`.txt` with one path per line, or `.jsonl` with {"id", "path"} per line; paths
 * relative to the manifest). Sorted by id, so shards are the same on every listing.
 */
export async function listDataset(spec: string, input = 'dataset'): Promise<DatasetEntry[]> {
  let entries: DatasetEntry[];
  if (spec.startsWith('s3://')) {
    const keys = await openStore(spec).list('');
    entries = keys.filter((k) => IMAGE_EXTENSIONS.has(extname(k).toLowerCase())).map((key) => ({ imageId: idOf(key), key }));
  } else {
    const info = await stat(spec).catch((err: unknown) => {
      throw new InputError(input, `expected a folder of images, a manifest file or s3://bucket/prefix; cannot read '${spec}'`, { cause: err });
    });
    if (info.isDirectory()) {
      const paths: string[] = [];
      await walk(resolve(spec), resolve(spec), paths);
      entries = paths.map((key) => ({ imageId: idOf(key), key }));
    } else {
      entries = parseManifest(await readFile(spec, 'utf8'), spec);
    }
  }
  if (entries.length === 0) throw new InputError(input, `no images (.png, .jpg, .jpeg, .npy) found in '${spec}'`);
  const seen = new Map<string, string>();
  for (const e of entries) {
    const other = seen.get(e.imageId);
    if (other !== undefined) throw new InputError(input, `two images share the id '${e.imageId}': ${other} and ${e.key}`);
    seen.set(e.imageId, e.key);
  }
  return entries.sort((a, b) => (a.imageId < b.imageId ? -1 : a.imageId > b.imageId ? 1 : 0));
}

function parseManifest(text: string, spec: string): DatasetEntry[] {
  const jsonl = spec.endsWith('.jsonl');
  return text
    .split('\n')
    .map((line, i) => [line.trim(), i + 1] as const)
    .filter(([line]) => line !== '' && !line.startsWith('#'))
    .map(([line, n]) => {
      if (!jsonl) return { imageId: idOf(line), key: line };
      let row: unknown;
      try {
        row = JSON.parse(line);
      } catch (err) {
        throw new InputError(`${spec}:${n}`, 'expected a JSON object per line', { cause: err });
      }
      const { id, path } = (row ?? {}) as { id?: unknown; path?: unknown };
      if (typeof path !== 'string') throw new InputError(`${spec}:${n}`, 'expected {"id": string?, "path": string}');
      return { imageId: typeof id === 'string' && id !== '' ? id : idOf(path), key: path };
    });
}

/** Reads one dataset entry's bytes. */
export async function readDatasetEntry(spec: string, entry: DatasetEntry): Promise<Uint8Array> {
  if (spec.startsWith('s3://')) return openStore(spec).get(entry.key);
  const info = await stat(spec);
  const root = info.isDirectory() ? resolve(spec) : resolve(spec, '..');
  const path = resolve(root, entry.key);
  if (!path.startsWith(root + sep)) throw new InputError(`dataset entry ${entry.imageId}`, `path '${entry.key}' leaves the dataset folder`);
  return readFile(path);
}
