import { Context } from '@temporalio/activity';
import { runLayout } from '../store/layout.ts';
import { readSampleRows } from '../store/tables.ts';
import { embedReference } from './reference.ts';
import { sampleShard } from './sampling.ts';
import type { SamplingDeps, ShardInput, ShardResult, StoredBatch } from './sampling.ts';

/** Heartbeat details of `sampleShard`: the first image of the shard not yet sampled. */
export interface ShardHeartbeat {
  nextImage: number;
}

/** The batches of a shard stored since the attempt's last report. */
export interface StoredBatches {
  shard: string;
  batches: StoredBatch[];
}

export interface BatchReports {
  /** Delivers a report to the workflow that scheduled the shard (the worker signals it through its Temporal client). */
  send: (workflowId: string, report: StoredBatches) => Promise<void>;
  /** Fewest milliseconds between two reports of one attempt; batches stored meanwhile wait for the next. Default 1000. */
  everyMs?: number;
}

/**
 * Activities of the `sampling` queue. `sampleShard` heartbeats {nextImage} after every batch and on a
 * timer between batches (a batch of a large model takes longer than a heartbeat timeout should), stops
 * when Temporal cancels it, and resumes on retry from the batches already in the store: their parts are
 * the durable record, the heartbeat only reports progress. A shard whose table exists is not sampled again.
 * With `reports`, the batches it stores are reported to its workflow (progress between shard completions;
 * best effort: a lost report only delays progress until the shard completes).
 */
export function createSamplingActivities(deps: SamplingDeps & { reports?: BatchReports }) {
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
      const workflowId = ctx.info.workflowExecution?.workflowId;
      const reports = workflowId === undefined ? undefined : deps.reports;
      let pending: StoredBatch[] = [];
      let lastReport = -Infinity;
      let sending = Promise.resolve();
      const stored = (batch: StoredBatch) => {
        pending.push(batch);
        if (reports === undefined || performance.now() - lastReport < (reports.everyMs ?? 1000)) return;
        const report = { shard: input.shard, batches: pending };
        pending = [];
        lastReport = performance.now();
        // Sent in order, off the sampling path: a slow signal never holds up the next batch.
        sending = sending
          .then(() => reports.send(workflowId!, report))
          .catch((err: unknown) => ctx.log.warn('batch report not delivered', { shard: input.shard, error: String(err) }));
      };
      try {
        return await sampleShard(deps, input, {
          progress: (nextImage) => {
            beat = { nextImage };
            ctx.heartbeat(beat);
          },
          stored,
          signal: ctx.cancellationSignal,
        });
      } finally {
        clearInterval(timer);
        await sending;
      }
    },

    /** φ of the run's reference set, on the sampling queue where the extractor is loaded. */
    async embedReference(input: { runId: string }): Promise<{ images: number; skipped: number }> {
      Context.current().heartbeat();
      return await embedReference(deps, input.runId);
    },
  };
}
