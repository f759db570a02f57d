import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { runLayout } from '../../store/layout.ts';
import type { S3Store } from '../../store/objects.ts';
import { startDashboard } from '../../serve/server.ts';
import type { StartedDashboard } from '../../serve/server.ts';
import { writeSyntheticRun } from '../fixtures/runs.ts';
import { S3_DEFAULTS, s3Store, uniqueName, useServiceEnvironment } from './services.ts';

/** The dashboard over the S3 store (SeaweedFS): the same pages and files, and the credentials stay out of them. */

useServiceEnvironment();
const prefix = uniqueName('test/dashboard-s3');
let store: S3Store | undefined;
let dashboard: StartedDashboard;
const logged: string[] = [];

before(async () => {
  store = await s3Store(prefix);
  await writeSyntheticRun(store, { runId: 's3-run', images: 30, samplesPerImage: 2, shardSize: 10, pngs: true, failure: (i, k) => (i === 2 && k === 0 ? 'unreadable image' : null) });
  dashboard = await startDashboard({ store, temporal: null, host: '127.0.0.1', port: 0, log: (l) => logged.push(l) });
});

after(async () => {
  await dashboard?.close();
  if (store !== undefined) {
    for (const key of await store.list('')) await store.delete(key);
    store.client.destroy();
  }
});

test('the run list, the run page, the JSON answers and the run images come from the S3 store', async () => {
  const list = await (await fetch(dashboard.url)).text();
  assert.match(list, /<tr data-run="s3-run">/);
  assert.match(list, /59 ok \/ 1 error samples/);
  const run = await fetch(`${dashboard.url}runs/s3-run/`);
  const body = await run.text();
  assert.equal(run.status, 200);
  assert.equal([...body.matchAll(/<section class="image" data-image=/g)].length, 24);
  assert.match(body, /unreadable image/);
  const png = await fetch(`${dashboard.url}runs/s3-run/files/images/img-00000/query.png`);
  assert.equal(png.headers.get('content-type'), 'image/png');
  assert.deepEqual([...new Uint8Array(await png.arrayBuffer())], [...(await store!.get(runLayout('s3-run').queryImage('img-00000')))]);
  assert.equal((await fetch(`${dashboard.url}runs/s3-run/files/images/nope.png`)).status, 404);
  const api = (await (await fetch(`${dashboard.url}api/runs/s3-run`)).json()) as { location: string; summary: { samples: { ok: number } } };
  assert.equal(api.summary.samples.ok, 59);
  assert.equal(api.location, `${store!.location}/runs/s3-run`);
  const secret = process.env.FIBERSCOPE_S3_SECRET_KEY || S3_DEFAULTS.secretKey;
  const answers = [list, body, JSON.stringify(api), await (await fetch(`${dashboard.url}api/runs`)).text(), ...logged];
  for (const text of answers) assert.ok(!text.includes(secret), 'the secret key appears nowhere');
});
