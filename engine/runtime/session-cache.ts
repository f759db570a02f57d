import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, utimesSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';

/**
 * onnxruntime's own optimized form of a model kept on disk, so that a second process opens its
 * session without graph optimization: the graph after level-`all` optimization, saved with its
 * weights beside it, and loaded back with optimization off. On the NDTM cost gradient (UNet +
 * ResNet-18, 114 MB of weights) session creation drops from 0.5–0.85 s to 0.19–0.23 s, with equal
 * outputs and run time.
 *
 * Pre-packed weights are not saved (format 2): a ConvNeXt-T saved with them
 * (save_external_prepacked_constant_initializers) crashed the process on its first run after
 * reloading (a general protection fault in onnxruntime, on an AVX-512 machine), and they brought
 * no measurable start-up time (session creation 118 ms either way for the NDTM cost gradient,
 * 28–29 ms for a UNet's); entries of format 1 are never read.
 *
 * What is saved holds onnxruntime-specific operators and weight layouts chosen for this CPU, so an
 * entry is keyed by the model's content, every session option, the onnxruntime version and the
 * CPU's model and feature flags; it is an internal artifact of this machine, never handed on as a
 * model. CPU execution provider only. A broken entry is removed and the model opened as usual.
 */

export const SESSION_FILE = 'session.onnx';
/** What an entry holds; part of its key, so that entries of an older format are not read. */
export const SESSION_CACHE_FORMAT = 2;
/** Entries kept; the least recently used beyond this are removed when a new one is written. */
export const SESSION_CACHE_ENTRIES = 16;

let cpuId: string | undefined;

/** The CPU's model name and feature flags (what onnxruntime's kernel and layout choices depend on). */
function cpuIdentity(): string {
  if (cpuId !== undefined) return cpuId;
  let text = '';
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    const first = info.split(/\n\s*\n/)[0] ?? '';
    text = first
      .split('\n')
      .filter((l) => /^(vendor_id|model name|flags|Features|CPU implementer|CPU part)\s*:/.test(l))
      .join('\n');
  } catch {
    // Not Linux: the model string is what there is.
  }
  cpuId = `${process.arch}|${cpus()[0]?.model ?? ''}|${text}`;
  return cpuId;
}

/**
 * A content id for a model given as a file: the file's bytes and the size and modification time of
 * every file in its folder (its external data lives there under names only the model knows).
 */
export function fileModelId(path: string): string {
  const h = createHash('sha256').update(readFileSync(path));
  const dir = dirname(resolve(path));
  for (const name of readdirSync(dir).sort()) {
    const st = statSync(join(dir, name), { throwIfNoEntry: false });
    if (st?.isFile()) h.update(`${name}|${st.size}|${st.mtimeMs}\n`);
  }
  return h.digest('hex');
}

export interface SessionCacheEntry {
  dir: string;
  file: string;
}

/** Where the optimized form of the model with content id `modelId` under `settings` lives. */
export function sessionCacheEntry(
  folder: string,
  modelId: string,
  settings: unknown,
  ortVersion: string,
): SessionCacheEntry {
  const key = createHash('sha256')
    .update(JSON.stringify({ format: SESSION_CACHE_FORMAT, ortVersion, settings, cpu: cpuIdentity() }))
    .update(modelId)
    .digest('hex');
  const dir = join(folder, key);
  return { dir, file: join(dir, SESSION_FILE) };
}

/** Marks a hit as recently used (for the pruning below). */
export function touchEntry(entry: SessionCacheEntry): void {
  const now = new Date();
  try {
    utimesSync(entry.dir, now, now);
  } catch {
    // A read-only cache still serves.
  }
}

/** A fresh folder to save into (renamed into place by `commitEntry`). */
export function partialEntry(entry: SessionCacheEntry): SessionCacheEntry {
  const dir = `${entry.dir}.partial-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  mkdirSync(dir, { recursive: true });
  return { dir, file: join(dir, SESSION_FILE) };
}

/**
 * The session config entries that make onnxruntime save its optimized graph to `partial.file`,
 * with the weights in a file beside it (not pre-packed: see above).
 */
export function saveEntries(): Record<string, string> {
  return {
    optimized_model_external_initializers_file_name: `${SESSION_FILE}.data`,
    optimized_model_external_initializers_min_size_in_bytes: '1024',
  };
}

/** Moves a saved entry into place (another process may have stored the same one first) and prunes. */
export function commitEntry(partial: SessionCacheEntry, entry: SessionCacheEntry): void {
  try {
    if (!existsSync(partial.file)) throw new Error('nothing saved');
    renameSync(partial.dir, entry.dir);
  } catch {
    rmSync(partial.dir, { recursive: true, force: true });
    return;
  }
  prune(dirname(entry.dir));
}

export function dropEntry(entry: SessionCacheEntry): void {
  rmSync(entry.dir, { recursive: true, force: true });
}

function prune(folder: string): void {
  try {
    const entries = readdirSync(folder, { withFileTypes: true })
      .filter((e) => e.isDirectory() && /^[0-9a-f]{64}$/.test(e.name))
      .map((e) => ({ dir: join(folder, e.name), used: statSync(join(folder, e.name)).mtimeMs }))
      .sort((a, b) => b.used - a.used);
    for (const e of entries.slice(SESSION_CACHE_ENTRIES)) rmSync(e.dir, { recursive: true, force: true });
  } catch {
    // Pruning is best effort: a concurrent prune may have removed an entry already.
  }
}
