import { Context } from '@temporalio/activity';
import { runLayout } from '../store/layout.ts';
import { readSampleRows } from '../store/tables.ts';
import { embedReference } from './reference.ts';
import { sampleShard, ShardHandedBack } from './sampling.ts';
import type { SamplingDeps, ShardInput, ShardResult } from './sampling.ts';

/** Heartbeat details of `sampleShard`: the first image of the shard not yet sampled. */
export interface ShardHeartbeat {
  nextImage: number;
}

/**
 * Activities of the `sampling` queue. `sampleShard` heartbeats {nextImage} after every batch and on a
 * timer between batches (a batch of a large model takes longer than a heartbeat timeout should), stops
 * when Temporal cancels it, and resumes on retry from the batches already in the store: their parts are
 * the durable record, the heartbeat only reports progress. A shard whose table exists is not sampled again.
 * When the worker shuts down, the running batch finishes, is stored and heartbeaten, and the shard is
 * handed back (a retryable `ShardHandedBack` failure): Temporal retries it at once on another worker.
 */
export function createSamplingActivities(deps: SamplingDeps) {
  return {
    async sampleShard(input: ShardInput): Promise<ShardResult> {
      const ctx = Context.current();
      const tableKey = runLayout(input.runId).shardTable(input.shard);
      if (await deps.store.exists(tableKey)) {
        const rows = readSampleRows(await deps.store.get(tableKey), tableKey);
        const okRows = rows.filter((r) => r.status === 'ok').length;
        return { shard: input.shard, images: input.end - input.start, okRows, errorRows: rows.length - okRows, tableKey, seconds: 0 };
      }
      const resumed = ctx.info.heartbeatDetails as ShardHeartbeat | undefined;
      let beat: ShardHeartbeat = { nextImage: resumed?.nextImage ?? input.start };
      if (resumed !== undefined) ctx.log.info('resuming shard', { shard: input.shard, attempt: ctx.info.attempt, nextImage: resumed.nextImage });
      ctx.heartbeat(beat);
      const every = Math.max(1000, Math.min(30_000, (ctx.info.heartbeatTimeoutMs ?? 60_000) / 3));
      const timer = setInterval(() => ctx.heartbeat(beat), every);
      const started = performance.now();
      let outcome: 'completed' | 'handed_back' | 'failed' = 'failed';
      try {
        const result = await sampleShard(deps, input, {
          progress: (nextImage) => {
            beat = { nextImage };
            ctx.heartbeat(beat);
          },
          signal: ctx.cancellationSignal,
        });
        outcome = 'completed';
        return result;
      } catch (err) {
        if (err instanceof ShardHandedBack) {
          outcome = 'handed_back';
          ctx.log.info('handing shard back', { shard: input.shard, nextImage: err.nextImage });
        }
        throw err;
      } finally {
        clearInterval(timer);
        deps.observer?.shardEnded(outcome, (performance.now() - started) / 1000);
      }
    },

    /** φ of the run's reference set, on the sampling queue where the extractor is loaded. */
    async embedReference(input: { runId: string }): Promise<{ images: number; skipped: number }> {
      Context.current().heartbeat();
      return await embedReference(deps, input.runId);
    },
  };
}
