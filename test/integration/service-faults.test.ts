import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { runRequestOf } from '../../activities/control.ts';
import type { NewRun } from '../../activities/run.ts';
import { buildDemo } from '../../engine/demo/build.ts';
import { readImageRows } from '../../store/image-tables.ts';
import { runLayout } from '../../store/layout.ts';
import type { S3Store } from '../../store/objects.ts';
import { readSampleRows } from '../../store/tables.ts';
import { auditWorkflowId } from '../../workflows/audit.ts';
import type { AuditOptions, AuditResult } from '../../workflows/audit.ts';
import { auditDatasetWorkflow } from '../../workflows/index.ts';
import { privateServices } from './faults.ts';
import type { PrivateServices } from './faults.ts';
import { s3Store, startWorkers, uniqueName, uploadFolder } from './services.ts';
import type { InProcessWorkers } from './services.ts';
import { until } from './worker-process.ts';
import { quickDemoSampler } from '../fixtures/demo-sampler.ts';

/**
 * Servers that go away mid-run: a private Temporal dev server and SeaweedFS (never the shared
 * ones), stopped and started again with their data while an audit runs on real workers.
 */
let services: PrivateServices;
let connection: NativeConnection | undefined;
let store: S3Store;
let client: Client;
let workers: InProcessWorkers | undefined;
const controlQueue = uniqueName('test-control');
const samplingQueue = uniqueName('test-sampling');
const prefix = uniqueName('test/service-faults');

/** Retries of a shard outlast an outage of several seconds: 1 + 2 + 4 + ... s of backoff between 8 attempts. */
const OPTIONS: AuditOptions = { samplingQueue, window: 2, heartbeatTimeout: '10 seconds', maximumAttempts: 8 };

before(async () => {
  services = await privateServices('service-faults');
  // Everything in this process (stores opened from s3:// specs included) talks to the private instance.
  Object.assign(process.env, services.env);
  process.env.FIBERSCOPE_CACHE_DIR = await mkdtemp(join(tmpdir(), 'fiberscope-cache-'));
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  connection = await NativeConnection.connect({ address: services.env.FIBERSCOPE_TEMPORAL_ADDRESS! });
  const namespace = services.env.FIBERSCOPE_TEMPORAL_NAMESPACE!;
  client = new Client({ connection, namespace });
  store = await s3Store(prefix);
  const demo = await buildDemo(await mkdtemp(join(tmpdir(), 'fiberscope-demo-')));
  await uploadFolder(store, demo.prior, 'bundles/prior');
  await uploadFolder(store, demo.extractors[1]!.path, 'bundles/extractor');
  await uploadFolder(store, demo.dataset, 'dataset');
  workers = await startWorkers({ connection, namespace, store, controlQueue, samplingQueue });
});

after(async () => {
  await workers?.stop();
  store?.client.destroy();
  await connection?.close();
  await services?.down();
});

function runSpec(runId: string): NewRun {
  const s3 = (key: string) => `s3://${services.env.FIBERSCOPE_S3_BUCKET}/${prefix}/${key}`;
  return {
    runId,
    dataset: s3('dataset'),
    prior: s3('bundles/prior'),
    extractor: s3('bundles/extractor'),
    samplesPerImage: 2,
    sampler: quickDemoSampler(5),
    preset: 'imagenet-dinov2',
    probes: ['hflip'],
    batchImages: 1,
    shardSize: 4,
    resizeQueries: false,
    provider: 'cpu',
    limit: 8,
  };
}

const SHARDS = ['shard-00000', 'shard-00001'];

async function startAudit(runId: string) {
  return await client.workflow.start(auditDatasetWorkflow, {
    taskQueue: controlQueue,
    workflowId: auditWorkflowId(runId),
    args: [{ store: store.location, run: runRequestOf(runSpec(runId)), options: OPTIONS }],
  });
}

async function batchesStored(runId: string): Promise<number> {
  const keys = await store.list(`${runLayout(runId).base}/parts/`);
  return keys.filter((k) => k.endsWith('.json')).length;
}

/** The run folder is complete: one ok row per (image, sample) in the shard tables, nothing twice. */
async function assertComplete(runId: string): Promise<void> {
  const layout = runLayout(runId);
  const rows = [];
  for (const shard of SHARDS) rows.push(...readSampleRows(await store.get(layout.shardTable(shard))));
  const keys = rows.map((r) => `${r.image_id}/${r.sample_index}`);
  assert.equal(rows.length, 16, 'no (image, sample) missing');
  assert.equal(new Set(keys).size, 16, 'no (image, sample) twice');
  for (const r of rows) assert.ok(r.status === 'ok' && (await store.exists(r.image_key!)), r.image_key ?? r.image_id);
  assert.equal(readImageRows(await store.get(layout.summary)).length, 8);
  for (const key of [layout.summaryJson, layout.report]) assert.ok(await store.exists(key), key);
  assert.deepEqual(await store.list(`${layout.base}/parts/`), []);
}

/** sampleShard attempts as recorded (the last of each shard, with the failure before it). */
async function shardAttempts(handle: Awaited<ReturnType<typeof startAudit>>) {
  const events = (await handle.fetchHistory()).events ?? [];
  const sampling = new Set(events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'sampleShard').map((e) => String(e.eventId)));
  return events.flatMap((e) => {
    const s = e.activityTaskStartedEventAttributes;
    return s && sampling.has(String(s.scheduledEventId)) ? [{ attempt: s.attempt ?? 0, lastFailure: s.lastFailure?.message ?? '' }] : [];
  });
}

test('the S3 server stopped mid-run and started a few seconds later: shards retry within their budget and the run completes', async () => {
  const id = uniqueName('s3-outage');
  const handle = await startAudit(id);
  await until('a batch stored', async () => (await batchesStored(id)) >= 1);
  await services.stop('s3');
  await new Promise((r) => setTimeout(r, 3000));
  await services.start('s3');
  const result = (await handle.result()) as AuditResult;
  assert.deepEqual([result.okRows, result.errorRows, result.images], [16, 0, 8]);
  await assertComplete(id);
  const attempts = await shardAttempts(handle);
  assert.equal(attempts.length, 2);
  assert.ok(
    attempts.some((a) => a.attempt > 1 && /ECONNREFUSED|connect|socket|network/i.test(a.lastFailure)),
    `a shard met the outage and was retried: ${JSON.stringify(attempts)}`,
  );
});

test('the Temporal server stopped mid-run and started again with its database: the same workflow completes the run', async () => {
  const id = uniqueName('temporal-outage');
  const handle = await startAudit(id);
  await until('a batch stored', async () => (await batchesStored(id)) >= 1);
  await services.stop('temporal');
  await new Promise((r) => setTimeout(r, 2000));
  await services.start('temporal');
  // The client's own calls fail while the server is away; ask again until the workflow is closed.
  let status = '';
  await until(
    'the audit to close',
    async () => {
      status = await handle.describe().then(
        (d) => d.status.name,
        () => '',
      );
      return status !== '' && status !== 'RUNNING';
    },
    170_000,
  );
  assert.equal(status, 'COMPLETED');
  const result = (await handle.result()) as AuditResult;
  assert.deepEqual([result.okRows, result.errorRows, result.images], [16, 0, 8]);
  assert.equal(result.executions, 1, 'the workflow survived the restart: no new execution');
  assert.equal((await handle.describe()).runId, handle.firstExecutionRunId);
  await assertComplete(id);
});
