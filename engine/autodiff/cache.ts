import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeModel, saveModel } from '../onnx/model.ts';
import type { Model } from '../onnx/ir.ts';

/**
 * Derived gradient graphs kept on disk by content hash, so that a second run with the same models
 * skips shape resolution and derivation and hands ONNX Runtime a file. The key covers the forward
 * graph's bytes, the request (what is differentiated, at which input dims) and the source of the
 * transform itself (engine/autodiff and engine/onnx), so a changed rule never serves an old graph.
 */

const here = dirname(fileURLToPath(import.meta.url));
let codeHash: string | undefined;

function sourceHash(): string {
  if (codeHash) return codeHash;
  const h = createHash('sha256');
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.[cm]?[jt]s$/.test(e.name)) h.update(e.name).update(readFileSync(p));
    }
  };
  walk(here);
  walk(join(here, '..', 'onnx'));
  codeHash = h.digest('hex');
  return codeHash;
}

export const GRADIENT_FILE = 'gradient.onnx';

/**
 * The gradient graph for `forward` (the model, or a content id of it) and `request` from `folder`
 * when derived before, else derives it with `derive`, stores it (initializers in a file beside it,
 * so that models past protobuf's 2 GiB fit) and returns the stored file's path, as a hit does; the
 * model itself only where it could not be stored, or with no folder (no caching).
 */
export async function cachedGradient(
  folder: string | undefined,
  forward: Model | { contentId: string },
  request: unknown,
  derive: () => Promise<Model>,
): Promise<Model | string> {
  if (!folder) return derive();
  // A caller holding the forward model's bytes (a file) can key by their hash and load the model on a miss only.
  const key = createHash('sha256')
    .update(sourceHash())
    .update(JSON.stringify(request))
    .update('contentId' in forward ? `id:${forward.contentId}` : encodeModel(forward))
    .digest('hex');
  const dir = join(folder, key);
  const file = join(dir, GRADIENT_FILE);
  if (existsSync(file)) return file;
  const model = await derive();
  // Written under a temporary name and renamed, so that a concurrent reader never sees half a file.
  const partial = `${dir}.partial-${process.pid}`;
  try {
    mkdirSync(partial, { recursive: true });
    saveModel(model, join(partial, GRADIENT_FILE), { externalData: { location: `${GRADIENT_FILE}.data` } });
    renameSync(partial, dir);
  } catch {
    // Another process stored the same graph first, or the folder is not writable: the graph in memory serves.
    rmSync(partial, { recursive: true, force: true });
    return existsSync(file) ? file : model;
  }
  // The stored file from now on, as a later run will see it (a session cache keys it by that file).
  return file;
}
