import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { NativeConnection } from '@temporalio/worker';
import { main } from '../../cli/main.ts';
import { listRuns } from '../../runs/catalogue.ts';
import type { RunEntry } from '../../runs/catalogue.ts';
import { parseRunConfig } from '../../runs/manifest.ts';
import { runLayout } from '../../store/layout.ts';
import { FileStore } from '../../store/objects.ts';
import { TINY_SAMPLER_FLAGS, tinyImage, writeTinyPair } from '../fixtures/tiny-pair.ts';
import { captureStdout } from '../unit/cli/fixtures.ts';
import { connectTemporal, startWorkers, temporalSettings, uniqueName } from './services.ts';
import type { InProcessWorkers } from './services.ts';

const controlQueue = uniqueName('test-schedule-control');
const samplingQueue = uniqueName('test-schedule-sampling');
const nightly = uniqueName('nightly');
const gated = uniqueName('gated');
let connection: NativeConnection | undefined;
let store: FileStore;
let createFlags: string[];
let workers: InProcessWorkers | undefined;

before(async () => {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  connection = await connectTemporal();
  const { namespace } = temporalSettings();
  const dir = await mkdtemp(join(tmpdir(), 'fiberscope-schedule-'));
  store = new FileStore(join(dir, 'store'));
  const pair = await writeTinyPair(dir);
  const dataset = join(dir, 'images');
  await mkdir(dataset);
  for (let i = 0; i < 4; i++) await writeFile(join(dataset, `q${i}.png`), tinyImage(i));
  createFlags = [
    '--every', '1h', '--dataset', dataset, '--prior', pair.prior, '--extractor', pair.extractor, '--out', store.root,
    '--task-queue', controlQueue, '--sampling-queue', samplingQueue, '--k', '2', '--batch-images', '2', '--shard-size', '4',
    '--probes', 'hflip', '--preset', 'imagenet-dinov2', ...TINY_SAMPLER_FLAGS, '--json',
  ];
  workers = await startWorkers({ connection, namespace, store, controlQueue, samplingQueue });
});

after(async () => {
  // A failed test must not leave schedules firing every hour.
  for (const id of [nightly, gated]) await main(['schedule', 'delete', id]).catch(() => undefined);
  await workers?.stop();
  await connection?.close();
});

const cli = async (...args: string[]) => {
  const { code, stdout } = await captureStdout(() => main(args));
  const last = stdout.trim().split('\n').at(-1) ?? '';
  return { code, json: last.startsWith('{') ? (JSON.parse(last) as Record<string, unknown>) : null, stdout };
};

/** Waits until the schedule has a finished run in the store, and returns it. */
async function scheduledRun(scheduleId: string): Promise<RunEntry> {
  for (let i = 0; i < 600; i++) {
    const run = (await listRuns(store)).find((r) => r.schedule?.id === scheduleId && r.status === 'done');
    if (run) return run;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`schedule ${scheduleId} made no finished run`);
}

test('schedule: create, list, pause/unpause, trigger makes a run under its own id with the schedule recorded, describe shows it, delete removes it', async () => {
  assert.equal((await cli('schedule', 'create', nightly, ...createFlags)).code, 0);
  assert.equal((await cli('schedule', 'create', nightly, ...createFlags)).code, 2, 'the same id twice is refused');

  const { stdout: listed } = await captureStdout(() => main(['schedule', 'list', '--json']));
  const mine = (JSON.parse(listed) as { scheduleId: string; paused: boolean }[]).find((s) => s.scheduleId === nightly);
  assert.deepEqual(mine && { paused: mine.paused }, { paused: false });

  assert.equal((await cli('schedule', 'pause', nightly, '--note', 'model freeze')).code, 0);
  let described = (await cli('schedule', 'describe', nightly, '--json')).json!;
  assert.equal(described.paused, true);
  assert.equal(described.note, 'model freeze');
  assert.equal(described.when, 'every 1h');
  assert.equal((await cli('schedule', 'unpause', nightly)).code, 0);
  assert.equal((await cli('schedule', 'describe', nightly, '--json')).json!.paused, false);

  assert.equal((await cli('schedule', 'trigger', nightly)).code, 0);
  const run = await scheduledRun(nightly);
  assert.match(run.runId, new RegExp(`^${nightly}-\\d{8}T\\d{6}Z-[0-9a-f]{6}$`));
  assert.deepEqual(run.samples, { ok: 8, error: 0 });
  const manifest = parseRunConfig(await store.get(runLayout(run.runId).manifest), 'manifest');
  assert.equal(manifest.schedule?.id, nightly);
  assert.ok(Math.abs(Date.parse(manifest.schedule!.actionTime) - Date.now()) < 10 * 60_000, `action time ${manifest.schedule!.actionTime}`);

  described = (await cli('schedule', 'describe', nightly, '--json')).json!;
  assert.ok((described.recentActions as unknown[]).length >= 1);
  assert.deepEqual((described.runs as { runId: string; status: string }[]).map((r) => [r.runId, r.status]), [[run.runId, 'done']]);

  assert.equal((await cli('schedule', 'delete', nightly)).code, 0);
  assert.equal((await cli('schedule', 'describe', nightly)).code, 2, 'a deleted schedule is gone');
  assert.ok(await store.exists(runLayout(run.runId).summaryJson), 'its runs stay in the store');
});

test('schedule --gate-baseline: each scheduled run is gated against the baseline and carries the verdict', async () => {
  const baseline = (await listRuns(store)).find((r) => r.schedule?.id === nightly && r.status === 'done');
  assert.ok(baseline, 'the first test left a finished scheduled run');
  assert.equal((await cli('schedule', 'create', gated, ...createFlags, '--gate-baseline', baseline.runId)).code, 0);
  assert.equal((await cli('schedule', 'trigger', gated)).code, 0);
  const run = await scheduledRun(gated);
  // The same model, prior, seed and sampler settings: the gate passes.
  let verdict: { verdict?: string; baseline?: { runId: string } } = {};
  for (let i = 0; i < 300 && verdict.verdict === undefined; i++) {
    if (await store.exists(runLayout(run.runId).gate)) verdict = JSON.parse(new TextDecoder().decode(await store.get(runLayout(run.runId).gate)));
    else await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal(verdict.verdict, 'pass');
  assert.equal(verdict.baseline?.runId, baseline.runId);
  assert.equal((await cli('schedule', 'delete', gated)).code, 0);
});
