import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { BatchOutcome, SamplingObserver } from '../activities/sampling.ts';
import { openSessionCount } from '../engine/runtime/index.ts';

const PREFIX = 'fiberscope_';

/**
 * A worker's Prometheus metrics, one registry per worker (tests run several in one process). Every
 * name starts with `fiberscope_`, prom-client's default process and Node metrics included (resident
 * memory, heap, event-loop lag). Counters count this worker's own work since it started.
 */
export class WorkerMetrics implements SamplingObserver {
  readonly registry = new Registry();
  private readonly images: Counter<'status'>;
  private readonly samples: Counter<'status'>;
  private readonly errorRows: Counter<'kind'>;
  private readonly batchesSkipped: Counter;
  private readonly shards: Counter<'outcome'>;
  private readonly batchSeconds: Histogram;
  private readonly shardSeconds: Histogram<'outcome'>;
  private readonly samplesPerSecond: Gauge;

  constructor(labels: { queue: string; taskQueue: string }) {
    const registers = [this.registry];
    this.registry.setDefaultLabels({ queue: labels.queue, task_queue: labels.taskQueue });
    collectDefaultMetrics({ register: this.registry, prefix: PREFIX });
    this.images = new Counter({
      name: `${PREFIX}images_processed_total`,
      help: 'Query images of the batches this worker sampled, by status (error: every sample of the image is an error row)',
      labelNames: ['status'],
      registers,
    });
    this.samples = new Counter({
      name: `${PREFIX}samples_processed_total`,
      help: 'Sample rows this worker wrote, by status',
      labelNames: ['status'],
      registers,
    });
    this.errorRows = new Counter({
      name: `${PREFIX}error_rows_total`,
      help: 'Error rows this worker wrote, by kind: image_missing, image_invalid (undecodable, wrong size), sample_non_finite',
      labelNames: ['kind'],
      registers,
    });
    this.batchesSkipped = new Counter({
      name: `${PREFIX}batches_skipped_total`,
      help: 'Batches a resumed shard found already stored by an earlier attempt and did not sample again',
      registers,
    });
    this.shards = new Counter({
      name: `${PREFIX}shards_total`,
      help: 'Shard attempts this worker ended, by outcome: completed, handed_back (shutdown), failed',
      labelNames: ['outcome'],
      registers,
    });
    this.batchSeconds = new Histogram({
      name: `${PREFIX}batch_duration_seconds`,
      help: 'Wall time of one sampled batch: read, sample, measure, write',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800],
      registers,
    });
    this.shardSeconds = new Histogram({
      name: `${PREFIX}shard_duration_seconds`,
      help: 'Wall time of one shard attempt on this worker, by outcome',
      labelNames: ['outcome'],
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 43200],
      registers,
    });
    this.samplesPerSecond = new Gauge({
      name: `${PREFIX}samples_per_second`,
      help: 'Samples per second of the last batch this worker sampled',
      registers,
    });
    new Gauge({
      name: `${PREFIX}onnx_sessions`,
      help: 'ONNX Runtime sessions open in this process (their weights count in process_resident_memory_bytes)',
      registers,
      collect() {
        this.set(openSessionCount());
      },
    });
    for (const status of ['ok', 'error']) {
      this.images.inc({ status }, 0);
      this.samples.inc({ status }, 0);
    }
    for (const kind of ['image_missing', 'image_invalid', 'sample_non_finite']) this.errorRows.inc({ kind }, 0);
  }

  batchSampled(o: BatchOutcome): void {
    const errors = Object.values(o.errorRows).reduce((a, b) => a + b, 0);
    const samples = o.okSamples + errors;
    this.images.inc({ status: 'ok' }, o.images - o.errorImages);
    this.images.inc({ status: 'error' }, o.errorImages);
    this.samples.inc({ status: 'ok' }, o.okSamples);
    this.samples.inc({ status: 'error' }, errors);
    for (const [kind, n] of Object.entries(o.errorRows)) this.errorRows.inc({ kind }, n);
    this.batchSeconds.observe(o.seconds);
    if (o.seconds > 0) this.samplesPerSecond.set(samples / o.seconds);
  }

  batchSkipped(): void {
    this.batchesSkipped.inc();
  }

  shardEnded(outcome: 'completed' | 'handed_back' | 'failed', seconds: number): void {
    this.shards.inc({ outcome });
    this.shardSeconds.observe({ outcome }, seconds);
  }
}
