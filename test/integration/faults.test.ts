import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client, Connection } from '@temporalio/client';
import { S3Store } from '../../store/objects.ts';
import { privateServices } from './faults.ts';
import type { PrivateServices } from './faults.ts';

const SHARED_PORTS = [7233, 7243, 7244, 8333, 9333, 9340, 8888, 17233, 18333, 19333, 19340, 18888];

let services: PrivateServices | undefined;
before(async () => {
  services = await privateServices('faults-test');
});
after(async () => {
  await services?.down();
});

function storeOf(env: Readonly<Record<string, string>>): S3Store {
  return new S3Store({
    bucket: env.FIBERSCOPE_S3_BUCKET!,
    endpoint: env.FIBERSCOPE_S3_ENDPOINT!,
    region: env.FIBERSCOPE_S3_REGION!,
    credentials: { accessKeyId: env.FIBERSCOPE_S3_ACCESS_KEY!, secretAccessKey: env.FIBERSCOPE_S3_SECRET_KEY! },
    maxAttempts: 1,
  });
}

test('a private instance listens on ports of its own, never the shared ones', () => {
  assert.ok(services !== undefined);
  const { env } = services;
  const s3Port = Number(new URL(env.FIBERSCOPE_S3_ENDPOINT!).port);
  const temporalPort = Number(env.FIBERSCOPE_TEMPORAL_ADDRESS!.split(':')[1]);
  assert.ok(s3Port > 0 && temporalPort > 0);
  assert.ok(!SHARED_PORTS.includes(s3Port) && !SHARED_PORTS.includes(temporalPort), `${s3Port} ${temporalPort}`);
  assert.equal(env.FIBERSCOPE_SERVICES_DIR, services.dir);
});

test('S3 stopped refuses connections; started again it serves the objects written before', async () => {
  assert.ok(services !== undefined);
  const store = storeOf(services.env);
  await store.put('kept/object.txt', 'written before the outage');
  await services.stop('s3');
  await assert.rejects(store.get('kept/object.txt'), (err: Error & { code?: string }) => err.code === 'ECONNREFUSED' || /ECONNREFUSED/.test(String(err)));
  await services.start('s3');
  assert.equal(new TextDecoder().decode(await store.get('kept/object.txt')), 'written before the outage');
  store.client.destroy();
});

test('Temporal stopped refuses connections; started again it still knows a running workflow', async () => {
  assert.ok(services !== undefined);
  const address = services.env.FIBERSCOPE_TEMPORAL_ADDRESS!;
  const namespace = services.env.FIBERSCOPE_TEMPORAL_NAMESPACE!;
  let connection = await Connection.connect({ address });
  // No worker polls this queue: the workflow stays running, which is what a restart must keep.
  const handle = await new Client({ connection, namespace }).workflow.start('neverPolled', { taskQueue: 'faults-test', workflowId: 'faults-test-kept' });
  await connection.close();
  await services.stop('temporal');
  await assert.rejects(Connection.connect({ address, connectTimeout: 2000 }));
  await services.start('temporal');
  connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace });
  const described = await client.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId).describe();
  assert.equal(described.status.name, 'RUNNING');
  await client.workflow.getHandle(handle.workflowId).terminate('test over');
  await connection.close();
});
