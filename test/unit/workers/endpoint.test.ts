import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError } from '../../../engine/errors.ts';
import { serveWorkerEndpoint } from '../../../workers/http.ts';
import { WorkerMetrics } from '../../../workers/metrics.ts';
import { metricValue } from '../../helpers/prometheus.ts';

test('the endpoint serves liveness, readiness that follows the worker, and Prometheus metrics', async () => {
  const metrics = new WorkerMetrics({ queue: 'sampling', taskQueue: 'gpu-a' });
  let ready = false;
  const endpoint = await serveWorkerEndpoint({ host: '127.0.0.1', port: 0, registry: metrics.registry, ready: () => ready });
  const url = (path: string) => `http://127.0.0.1:${endpoint.port}${path}`;
  try {
    assert.equal((await fetch(url('/healthz'))).status, 200);
    assert.equal((await fetch(url('/readyz'))).status, 503, 'not ready before polling');
    ready = true;
    assert.equal((await fetch(url('/readyz'))).status, 200);
    assert.equal((await fetch(url('/nothing'))).status, 404);
    assert.equal((await fetch(url('/metrics'), { method: 'POST' })).status, 405);

    metrics.batchSampled({ images: 4, errorImages: 1, okSamples: 6, errorRows: { image_missing: 2 }, seconds: 2 });
    metrics.batchSampled({ images: 2, errorImages: 0, okSamples: 3, errorRows: { sample_non_finite: 1 }, seconds: 0.5 });
    metrics.batchSkipped();
    metrics.shardEnded('completed', 12);
    metrics.shardEnded('handed_back', 3);
    const res = await fetch(url('/metrics'));
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const v = (name: string, labels: Record<string, string> = {}) => metricValue(text, name, { queue: 'sampling', task_queue: 'gpu-a', ...labels });
    assert.equal(v('fiberscope_images_processed_total', { status: 'ok' }), 5);
    assert.equal(v('fiberscope_images_processed_total', { status: 'error' }), 1);
    assert.equal(v('fiberscope_samples_processed_total', { status: 'ok' }), 9);
    assert.equal(v('fiberscope_samples_processed_total', { status: 'error' }), 3);
    assert.equal(v('fiberscope_error_rows_total', { kind: 'image_missing' }), 2);
    assert.equal(v('fiberscope_error_rows_total', { kind: 'sample_non_finite' }), 1);
    assert.equal(v('fiberscope_error_rows_total', { kind: 'image_invalid' }), 0, 'every kind is exported, zero until seen');
    assert.equal(v('fiberscope_batches_skipped_total'), 1);
    assert.equal(v('fiberscope_batch_duration_seconds_count'), 2);
    assert.equal(v('fiberscope_batch_duration_seconds_sum'), 2.5);
    assert.equal(v('fiberscope_batch_duration_seconds_bucket', { le: '1' }), 1);
    assert.equal(v('fiberscope_shards_total', { outcome: 'handed_back' }), 1);
    assert.equal(v('fiberscope_shard_duration_seconds_count', { outcome: 'completed' }), 1);
    assert.equal(v('fiberscope_samples_per_second'), 8, 'the last batch: 4 samples in 0.5 s');
    assert.equal(typeof v('fiberscope_onnx_sessions'), 'number');
    assert.ok((v('fiberscope_process_resident_memory_bytes') ?? 0) > 1e6, 'process memory');
    assert.ok((v('fiberscope_nodejs_heap_size_used_bytes') ?? 0) > 1e5, 'heap');

    await assert.rejects(
      serveWorkerEndpoint({ host: '127.0.0.1', port: endpoint.port, registry: metrics.registry, ready: () => true }),
      (err: unknown) => err instanceof InputError && err.input === '--http-port' && /already in use/.test(err.message),
    );
  } finally {
    await endpoint.close();
  }
});
