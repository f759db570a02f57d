import { InputError, RunFailedError } from '../engine/errors.ts';
import type { RunPhase } from '../engine/errors.ts';
import { ObjectNotFoundError } from '../store/objects.ts';
import type { ObjectStore } from '../store/objects.ts';
import { runLayout } from '../store/layout.ts';
import { createRun } from './run.ts';
import type { NewRun } from './run.ts';
import { parseRunConfig } from '../runs/manifest.ts';
import type { RunConfig } from '../runs/manifest.ts';
import { sampleShard } from './sampling.ts';
import type { PairLoader, ShardResult } from './sampling.ts';
import { embedReference } from './reference.ts';
import { writeRunStatus } from '../runs/status.ts';
import { summarizeRun } from './summary.ts';
import type { SummaryResult } from './summary.ts';

export interface LocalProgress {
  imagesDone: number;
  imagesTotal: number;
  shardsDone: number;
  shardsTotal: number;
}

export interface LocalEngineOptions {
  store: ObjectStore;
  loadPair: PairLoader;
  /** Shards sampled at once; 1 on a CPU (ONNX Runtime already uses every core for one batch). */
  concurrency?: number;
  onProgress?: (p: LocalProgress) => void;
  signal?: AbortSignal;
}

export interface LocalAuditResult extends SummaryResult {
  runId: string;
  shards: ShardResult[];
}

async function openRun(store: ObjectStore, runId: string) {
  const key = runLayout(runId).manifest;
  try {
    return parseRunConfig(await store.get(key), key);
  } catch (err) {
    if (err instanceof ObjectNotFoundError) throw new InputError('resume', `no run '${runId}' in ${store.location}`, { cause: err });
    throw err;
  }
}

/**
 * The embedded default: the same activities as the Temporal pipeline (create run → sample shards →
 * summarize), run in this process with a bounded pool, so one machine needs no services at all.
 * `resume` continues an existing run: finished shards and batches are not sampled again.
 */
export async function runLocalAudit(spec: NewRun | { resume: string }, opts: LocalEngineOptions): Promise<LocalAuditResult> {
  const { store } = opts;
  const config = 'resume' in spec ? await openRun(store, spec.resume) : await createRun(store, spec);
  await writeRunStatus(store, config.runId, { state: 'running', engine: 'local', phase: 'sampling' });
  try {
    const result = await sampleAndSummarize(config, opts);
    await writeRunStatus(store, config.runId, { state: 'done', engine: 'local', phase: 'done' });
    return result;
  } catch (err) {
    // Recorded so the catalogue says why; the shards and batches already stored stay for --resume.
    const error = { kind: err instanceof Error ? err.name : 'Error', message: err instanceof Error ? err.message : String(err) };
    await writeRunStatus(store, config.runId, { state: 'failed', engine: 'local', error }).catch(() => undefined);
    throw err;
  }
}

async function sampleAndSummarize(config: RunConfig, opts: LocalEngineOptions): Promise<LocalAuditResult> {
  const { store } = opts;
  const layout = runLayout(config.runId);
  // Once the run exists, a failure names where it stopped; before, nothing was written to keep.
  const step = async <T>(phase: RunPhase, shard: string | undefined, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (err) {
      throw new RunFailedError({ runId: config.runId, phase, ...(shard === undefined ? {} : { shard }) }, { cause: err });
    }
  };
  // A local run refreshes its status while it samples: a stale `running` means the process is gone.
  let refreshed = Date.now();
  const refresh = () => {
    if (Date.now() - refreshed < 30_000) return;
    refreshed = Date.now();
    void writeRunStatus(store, config.runId, { state: 'running', engine: 'local', phase: 'sampling' }).catch(() => undefined);
  };
  const progress: LocalProgress = { imagesDone: 0, imagesTotal: config.imageCount, shardsDone: 0, shardsTotal: config.shards.length };
  const report = () => {
    refresh();
    opts.onProgress?.({ ...progress });
  };
  report();
  const queue = [...config.shards];
  const results: ShardResult[] = [];
  const worker = async () => {
    try {
      await sampleQueue();
    } catch (err) {
      // One shard failed the run: the other pool members take no new shard.
      queue.length = 0;
      throw err;
    }
  };
  const sampleQueue = async () => {
    for (let s = queue.shift(); s; s = queue.shift()) {
      const shard = s;
      const tableKey = layout.shardTable(shard.shard);
      if (await step('sampling', shard.shard, () => store.exists(tableKey))) {
        progress.imagesDone += shard.end - shard.start;
      } else {
        let counted = 0;
        const result = await step('sampling', shard.shard, () =>
          sampleShard(
            { store, loadPair: opts.loadPair },
            { runId: config.runId, ...shard },
            {
              progress: (_next, done) => {
                progress.imagesDone += done.images - counted;
                counted = done.images;
                report();
              },
              ...(opts.signal ? { signal: opts.signal } : {}),
            },
          ),
        );
        results.push(result);
      }
      progress.shardsDone += 1;
      report();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 1) }, worker));
  if (config.reference !== null) await step('summarizing', undefined, () => embedReference({ store, loadPair: opts.loadPair }, config.runId));
  const summary = await step('summarizing', undefined, () => summarizeRun(store, config.runId));
  return { runId: config.runId, shards: results, ...summary };
}
