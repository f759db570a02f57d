import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ActivityFailure, ApplicationFailure, Client, WorkflowFailedError } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { NativeConnection, Worker } from '@temporalio/worker';
import { STORAGE_CHECK_ERROR } from '../../activities/storage.ts';
import type { S3Store } from '../../store/objects.ts';
import { readSampleTable } from '../../store/tables.ts';
import { SCHEMA_VERSION } from '../../store/sample-rows.ts';
import { createControlWorker } from '../../workers/control.ts';
import { storageCheckWorkflow } from '../../workflows/index.ts';
import { connectTemporal, s3Store, temporalSettings, uniqueName } from './services.ts';

let connection: NativeConnection | undefined;
let store: S3Store | undefined;
let worker: Worker | undefined;
let client: Client;
let workerRun: Promise<void> | undefined;
const taskQueue = uniqueName('test-control');

before(async () => {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  connection = await connectTemporal();
  store = await s3Store(uniqueName('test/storage-workflow'));
  const { namespace } = temporalSettings();
  worker = await createControlWorker({ connection, namespace, store, taskQueue });
  client = new Client({ connection, namespace });
  workerRun = worker.run();
});

// Parts may be missing when the services were not reachable: the before hook's error says so.
after(async () => {
  worker?.shutdown();
  await workerRun;
  if (store !== undefined) {
    for (const key of await store.list('')) await store.delete(key);
    store.client.destroy();
  }
  await connection?.close();
});

test('a workflow on a real worker writes a record and a sample table to S3, read back intact', async () => {
  assert.ok(store !== undefined);
  const runId = uniqueName('run');
  const imageIds = ['cat.jpg', 'dir/dog 2.png', 'ß'];
  const result = await client.workflow.execute(storageCheckWorkflow, {
    taskQueue,
    workflowId: uniqueName('storage-check'),
    args: [{ runId, imageIds, samplesPerImage: 2 }],
  });
  assert.equal(result.location, store.location);
  assert.equal(result.recordKey, `runs/${runId}/storage-check/record.json`);
  assert.equal(result.tableKey, `runs/${runId}/storage-check/samples.arrow`);
  assert.equal(result.rows, 6);
  assert.deepEqual(await store.list(`runs/${runId}/`), [result.recordKey, result.tableKey].sort());

  const record = JSON.parse(new TextDecoder().decode(await store.get(result.recordKey))) as Record<string, unknown>;
  assert.equal(record.runId, runId);
  assert.equal(record.schemaVersion, SCHEMA_VERSION);
  assert.equal((record.imageKeys as string[])[0], 'cat.jpg');
  assert.match((record.imageKeys as string[])[1] ?? '', /^dir_dog_2\.png-[0-9a-f]{10}$/);

  const table = readSampleTable(await store.get(result.tableKey), result.tableKey);
  assert.equal(table.schemaVersion, SCHEMA_VERSION);
  assert.deepEqual(
    table.rows.map((r) => [r.run_id, r.image_id, r.sample_index, r.status, r.error, r.cost]),
    imageIds.flatMap((id) => [0, 1].map((k) => [runId, id, k, 'error', STORAGE_CHECK_ERROR, null])),
  );
});

test('bad input fails the workflow at once as a non-retryable InputError', async () => {
  const handle = await client.workflow.start(storageCheckWorkflow, {
    taskQueue,
    workflowId: uniqueName('storage-check-bad'),
    args: [{ runId: uniqueName('run'), imageIds: ['a'], samplesPerImage: 0 }],
  });
  const err = await handle.result().then(
    () => assert.fail('expected the workflow to fail'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof WorkflowFailedError);
  assert.ok(err.cause instanceof ActivityFailure);
  assert.ok(err.cause.cause instanceof ApplicationFailure);
  assert.equal(err.cause.cause.type, 'InputError');
  assert.match(err.cause.cause.message, /samplesPerImage: expected an integer in 1\.\.1000, got 0/);
  const { events } = await handle.fetchHistory();
  const attempts = (events ?? []).flatMap((e) => (e.activityTaskStartedEventAttributes ? [e.activityTaskStartedEventAttributes.attempt] : []));
  assert.deepEqual(attempts, [1], 'tried once, not retried');
});
