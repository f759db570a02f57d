import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { describeRun, listRuns, LOCAL_STALE_MS, resolveRun } from '../../../runs/catalogue.ts';
import type { RunConfig } from '../../../runs/manifest.ts';
import { writeRunStatus } from '../../../runs/status.ts';
import { InputError } from '../../../engine/errors.ts';
import { runLayout } from '../../../store/layout.ts';
import { FileStore } from '../../../store/objects.ts';
import { testManifest } from '../../fixtures/runs.ts';

async function storeWithRuns() {
  const store = new FileStore(await mkdtemp(join(tmpdir(), 'catalogue-')));
  const put = (runId: string, c: RunConfig) => store.put(runLayout(runId).manifest, JSON.stringify(c));
  await put('r-done', testManifest('r-done', '2026-11-01T00:00:00Z', { schedule: { id: 'nightly', actionTime: '2026-11-01T00:00:00Z' } }));
  await store.put(
    runLayout('r-done').summaryJson,
    JSON.stringify({ samples: { total: 6, ok: 5, error: 1 }, probes: [{ probe: 'none', sampleRate: 0.5, imageRate: 1 }, { probe: 'hflip', sampleRate: 0.5, imageRate: 0.6 }] }),
  );
  await store.put(`${runLayout('r-done').base}/shards/00000.arrow`, 'x');
  await store.put(`${runLayout('r-done').base}/shards/00000.images.arrow`, 'x');
  await put('r-failed', testManifest('r-failed', '2026-11-02T00:00:00Z'));
  await writeRunStatus(store, 'r-failed', { state: 'failed', engine: 'local', error: { kind: 'StorageUnavailable', message: 'S3 unreachable' } });
  await put('r-live', testManifest('r-live', '2026-11-03T00:00:00Z'));
  await writeRunStatus(store, 'r-live', { state: 'running', engine: 'local' });
  await put('r-temporal', testManifest('r-temporal', '2026-11-04T00:00:00Z'));
  await writeRunStatus(store, 'r-temporal', { state: 'running', engine: 'temporal', workflowId: 'audit/r-temporal' });
  await put('r-bare', testManifest('r-bare', '2026-11-05T00:00:00Z'));
  await store.put('runs/not-a-run/stray.txt', 'no manifest here');
  return store;
}

test('listRuns: newest first, states from the status record and the summary, folders without a manifest skipped', async () => {
  const store = await storeWithRuns();
  const runs = await listRuns(store);
  assert.deepEqual(
    runs.map((r) => [r.runId, r.status]),
    [
      ['r-bare', 'incomplete'],
      ['r-temporal', 'running'],
      ['r-live', 'running'],
      ['r-failed', 'failed'],
      ['r-done', 'done'],
    ],
  );
  const done = runs.find((r) => r.runId === 'r-done')!;
  assert.deepEqual(done.samples, { ok: 5, error: 1 });
  assert.equal(done.topProbe, 'hflip');
  assert.equal(done.schedule?.id, 'nightly');
  assert.equal(done.prior.fingerprints['eps.onnx'], 'aa11bb22cc33dd44');
  assert.equal(runs.find((r) => r.runId === 'r-failed')!.error?.kind, 'StorageUnavailable');
});

test('listRuns: a local run not refreshed for a while is incomplete; a Temporal run the engine no longer has is too', async () => {
  const store = await storeWithRuns();
  const later = Date.now() + LOCAL_STALE_MS + 1000;
  const runs = await listRuns(store, { now: () => later, stillRunning: async (id) => id !== 'r-temporal' });
  assert.equal(runs.find((r) => r.runId === 'r-live')!.status, 'incomplete');
  assert.equal(runs.find((r) => r.runId === 'r-temporal')!.status, 'incomplete');
});

test('describeRun counts stored shard tables and refuses an unknown run by name', async () => {
  const store = await storeWithRuns();
  const d = await describeRun(store, 'r-done');
  assert.equal(d.shardsDone, 1);
  assert.equal(d.shardsTotal, 1);
  await assert.rejects(describeRun(store, 'nope'), (e: unknown) => e instanceof InputError && /no run 'nope'/.test(e.message));
});

test('resolveRun: a run id in the store, a run folder path, an s3:// run URI', async () => {
  const store = await storeWithRuns();
  const byId = resolveRun('r-done', store.root);
  assert.equal(byId.runId, 'r-done');
  assert.equal(byId.store.location, store.location);
  const byFolder = resolveRun(join(store.root, 'runs', 'r-done') + '/', '/elsewhere');
  assert.equal(byFolder.runId, 'r-done');
  assert.equal(byFolder.store.location, store.location);
  const s3 = resolveRun('s3://bucket/audits/runs/r1', '/x', 'run', {});
  assert.equal(s3.runId, 'r1');
  assert.equal(s3.store.location, 's3://bucket/audits');
  assert.throws(() => resolveRun('s3://bucket/r1', '/x', 'baseline', {}), /baseline: expected s3:\/\/bucket\[\/prefix\]\/runs\/<runId>/);
  assert.throws(() => resolveRun('./no/such/folder', '/x', 'candidate'), /candidate: no run folder/);
});
