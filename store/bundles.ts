import { createHash } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { InputError } from '../engine/errors.ts';
import { openStore } from './objects.ts';

/** Where bundles fetched from S3 are kept: FIBERSCOPE_CACHE_DIR, else the user's cache folder. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.FIBERSCOPE_CACHE_DIR ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'fiberscope');
}

/**
 * The engine's folders under the cache: derived gradient graphs, and onnxruntime's optimized form
 * of each session's model (engine/runtime/session-cache.ts; FIBERSCOPE_SESSION_CACHE=off: none).
 */
export function engineCaches(env: NodeJS.ProcessEnv = process.env): { gradients: string; sessions?: string } {
  const root = cacheDir(env);
  return {
    gradients: join(root, 'gradients'),
    ...(env.FIBERSCOPE_SESSION_CACHE === 'off' ? {} : { sessions: join(root, 'sessions') }),
  };
}

/**
 * A bundle as a local folder: a folder is used in place; `s3://bucket/prefix` is copied (every
 * object under the prefix) into the cache once per process and that copy is used. Runs record the
 * spec as given, so every worker resolves the same bundle wherever it runs.
 */
const fetched = new Map<string, Promise<string>>();

export function localBundle(spec: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (!spec.startsWith('s3://')) return Promise.resolve(resolve(spec));
  let hit = fetched.get(spec);
  if (!hit) {
    hit = fetchBundle(spec, env);
    hit.catch(() => fetched.delete(spec));
    fetched.set(spec, hit);
  }
  return hit;
}

async function fetchBundle(spec: string, env: NodeJS.ProcessEnv): Promise<string> {
  const store = openStore(spec, env);
  const keys = await store.list('');
  if (!keys.includes('fiberscope.json')) {
    throw new InputError(spec, `expected a bundle prefix holding fiberscope.json; found ${keys.length} objects without it`);
  }
  const target = join(cacheDir(env), 'bundles', createHash('sha256').update(spec).digest('hex').slice(0, 16));
  const staging = `${target}.tmp-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  for (const key of keys) {
    const path = join(staging, ...key.split('/'));
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, await store.get(key));
  }
  await rm(target, { recursive: true, force: true });
  await rename(staging, target);
  return target;
}
