import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { InputError } from '../engine/errors.ts';
import { runLayout } from '../store/layout.ts';
import { ObjectNotFoundError, openStore, readJsonIfPresent } from '../store/objects.ts';
import { inParallel } from '../store/parallel.ts';
import type { ObjectStore } from '../store/objects.ts';
import { parseRunConfig } from './manifest.ts';
import type { RunConfig } from './manifest.ts';
import { readRunStatus } from './status.ts';
import type { RunStatusRecord } from './status.ts';
import type { RunSummary } from './summary.ts';

/** What the catalogue says of a run: `incomplete` is a run nobody is finishing (resume it). */
export type RunState = 'running' | 'done' | 'failed' | 'incomplete';

/** A local run whose status has not been refreshed for this long has lost its process. */
export const LOCAL_STALE_MS = 5 * 60 * 1000;

/** One line of the run catalogue (`fiberscope runs list`, the dashboard's run list). */
export interface RunEntry {
  runId: string;
  status: RunState;
  createdAt: string;
  updatedAt: string | null;
  /** The run folder: `<store>/runs/<runId>`. */
  location: string;
  engine: 'local' | 'temporal' | null;
  prior: { id: string; fingerprints: Record<string, string> };
  extractor: { id: string; fingerprints: Record<string, string> };
  images: number;
  /** From the summary; null until the run is summarized. */
  samples: { ok: number; error: number } | null;
  /** The probe most samples land nearest to (not `none`), from the summary. */
  topProbe: string | null;
  schedule: { id: string; actionTime: string } | null;
  error: { kind: string; message: string } | null;
}

/** `fiberscope runs show`: the entry plus what it was computed from. */
export interface RunDetails extends RunEntry {
  config: RunConfig;
  summary: RunSummary | null;
  statusRecord: RunStatusRecord | null;
  shardsDone: number;
  shardsTotal: number;
}

export interface CatalogueOptions {
  /**
   * Asks the engine whether a run recorded as running on Temporal still is (the dashboard passes a
   * Temporal client); without it such a run is taken at its word.
   */
  stillRunning?: (runId: string, status: RunStatusRecord) => Promise<boolean>;
  now?: () => number;
}

async function stateOf(
  runId: string,
  summary: RunSummary | null,
  status: RunStatusRecord | null,
  opts: CatalogueOptions,
): Promise<RunState> {
  if (status?.state === 'failed') return 'failed';
  if (status?.state === 'running') {
    if (status.engine === 'local') {
      const age = (opts.now?.() ?? Date.now()) - Date.parse(status.updatedAt);
      return age <= LOCAL_STALE_MS ? 'running' : summary ? 'done' : 'incomplete';
    }
    if (opts.stillRunning === undefined || (await opts.stillRunning(runId, status))) return 'running';
  }
  return summary ? 'done' : 'incomplete';
}

function entryOf(store: ObjectStore, config: RunConfig, summary: RunSummary | null, status: RunStatusRecord | null, state: RunState): RunEntry {
  const top = summary?.probes.find((p) => p.probe !== 'none' && p.sampleRate > 0);
  return {
    runId: config.runId,
    status: state,
    createdAt: config.createdAt,
    updatedAt: status?.updatedAt ?? null,
    location: `${store.location}/${runLayout(config.runId).base}`,
    engine: status?.engine ?? null,
    prior: { id: config.prior.id, fingerprints: config.prior.fingerprints },
    extractor: { id: config.extractor.id, fingerprints: config.extractor.fingerprints },
    images: config.imageCount,
    samples: summary ? { ok: summary.samples.ok, error: summary.samples.error } : null,
    topProbe: top?.probe ?? null,
    schedule: config.schedule ?? null,
    error: status?.state === 'failed' ? (status.error ?? { kind: 'unknown', message: 'the run failed' }) : null,
  };
}

/** Reads one run of a store in full; an InputError naming the run when it has no manifest. */
export async function describeRun(store: ObjectStore, runId: string, opts: CatalogueOptions = {}): Promise<RunDetails> {
  const layout = runLayout(runId);
  let bytes: Uint8Array;
  try {
    bytes = await store.get(layout.manifest);
  } catch (err) {
    if (err instanceof ObjectNotFoundError) throw new InputError('run', `no run '${runId}' in ${store.location}`, { cause: err });
    throw err;
  }
  const config = parseRunConfig(bytes, `${store.location}/${layout.manifest}`);
  const [summary, status, shardKeys] = await Promise.all([
    readJsonIfPresent<RunSummary>(store, layout.summaryJson),
    readRunStatus(store, runId),
    store.list(`${layout.base}/shards/`),
  ]);
  const state = await stateOf(runId, summary, status, opts);
  const shardsDone = shardKeys.filter((k) => /\/shards\/[^/]+\.arrow$/.test(k) && !k.endsWith('.images.arrow')).length;
  return { ...entryOf(store, config, summary, status, state), config, summary, statusRecord: status, shardsDone, shardsTotal: config.shards.length };
}

/** Every run of a store, newest first (by creation time, then id). Folders without a manifest are skipped. */
export async function listRuns(store: ObjectStore, opts: CatalogueOptions = {}): Promise<RunEntry[]> {
  const ids = await store.listFolders('runs/');
  // A few runs at a time: three small objects each.
  const entries = await inParallel(ids, 8, async (id) => {
    const layout = runLayout(id);
    const bytes = await store.get(layout.manifest).catch((err: unknown) => {
      if (err instanceof ObjectNotFoundError) return null;
      throw err;
    });
    if (bytes === null) return null;
    let config: RunConfig;
    try {
      config = parseRunConfig(bytes, layout.manifest);
    } catch {
      return null;
    }
    const [summary, status] = await Promise.all([readJsonIfPresent<RunSummary>(store, layout.summaryJson), readRunStatus(store, config.runId)]);
    return entryOf(store, config, summary, status, await stateOf(config.runId, summary, status, opts));
  });
  return entries.filter((e): e is RunEntry => e !== null).sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.runId.localeCompare(a.runId));
}

/**
 * A RUN argument: a run id in `storeSpec`, or a run folder (a path or s3:// URI ending in
 * `runs/<runId>`). Returns the store holding the run and its id.
 */
export function resolveRun(spec: string, storeSpec: string, input = 'run', env: NodeJS.ProcessEnv = process.env): { store: ObjectStore; runId: string } {
  const trimmed = spec.replace(/\/+$/, '');
  if (trimmed === '') throw new InputError(input, 'expected a run id, a run folder or an s3:// URI of one');
  const folder = /^(.*)\/runs\/([^/]+)$/.exec(trimmed.startsWith('s3://') ? trimmed : resolve(trimmed));
  if (trimmed.startsWith('s3://')) {
    if (folder === null || folder[1]!.length <= 's3://'.length) throw new InputError(input, `expected s3://bucket[/prefix]/runs/<runId>, got '${spec}'`);
    return { store: openStore(folder[1]!, env), runId: folder[2]! };
  }
  if (folder !== null && existsSync(trimmed) && statSync(trimmed).isDirectory()) {
    return { store: openStore(folder[1]! === '' ? '/' : folder[1]!, env), runId: folder[2]! };
  }
  if (trimmed.includes('/')) throw new InputError(input, `no run folder '${spec}' (expected a run id in the store, or an existing '<store>/runs/<runId>')`);
  return { store: openStore(storeSpec, env), runId: trimmed };
}
