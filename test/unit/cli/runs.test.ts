import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { runRuns } from '../../../cli/actions/runs.ts';
import { main } from '../../../cli/main.ts';
import { runLayout } from '../../../store/layout.ts';
import { FileStore } from '../../../store/objects.ts';
import { testManifest } from '../../fixtures/runs.ts';

async function fixture() {
  const store = new FileStore(await mkdtemp(join(tmpdir(), 'runs-cli-')));
  await store.put(runLayout('r1').manifest, JSON.stringify(testManifest('r1', '2026-11-01T00:00:00.000Z', { schedule: { id: 'nightly', actionTime: '2026-11-01T00:00:00Z' } })));
  await store.put(runLayout('r1').summaryJson, JSON.stringify({ samples: { total: 6, ok: 5, error: 1 }, probes: [{ probe: 'hflip', sampleRate: 0.5, imageRate: 1 }] }));
  await store.put(runLayout('r2').manifest, JSON.stringify(testManifest('r2', '2026-11-02T00:00:00.000Z')));
  return store;
}

function capture() {
  let text = '';
  const out = new Writable({ write: (chunk, _enc, done) => ((text += String(chunk)), done()) });
  return { out, text: () => text };
}

test('runs list: a table, newest first, with status, names, short fingerprints, counts, top probe and schedule', async () => {
  const store = await fixture();
  const c = capture();
  assert.equal(await runRuns({ action: 'list', store: store.root, json: false }, c.out), 0);
  const lines = c.text().trimEnd().split('\n');
  assert.match(lines[0]!, /^RUN\s+STATUS\s+CREATED\s+PRIOR\s+EXTRACTOR\s+IMAGES\s+OK\/ERR\s+TOP PROBE\s+SCHEDULE$/);
  assert.match(lines[1]!, /^r2\s+incomplete\s+2026-11-02T00:00:00Z\s+prior-a aa11bb22\s+resnet-v3 ee55ff66\s+3\s+–\s+–\s+–$/);
  assert.match(lines[2]!, /^r1\s+done\s+.*\s+3\s+5\/1\s+hflip\s+nightly$/);
  // Columns line up: each status starts where the header's does.
  assert.equal(lines[1]!.indexOf('incomplete'), lines[0]!.indexOf('STATUS'));
  assert.equal(lines[2]!.indexOf('done'), lines[0]!.indexOf('STATUS'));
});

test('runs list --json and runs show by id and by folder', async () => {
  const store = await fixture();
  const c = capture();
  await runRuns({ action: 'list', store: store.root, json: true }, c.out);
  assert.deepEqual((JSON.parse(c.text()) as { runId: string }[]).map((r) => r.runId), ['r2', 'r1']);
  const s = capture();
  await runRuns({ action: 'show', run: join(store.root, 'runs', 'r1'), store: '/elsewhere', json: false }, s.out);
  assert.match(s.text(), /run r1: done/);
  assert.match(s.text(), /schedule\s+nightly \(action at 2026-11-01T00:00:00Z\)/);
  assert.match(s.text(), /samples\s+5 ok, 1 error/);
  const j = capture();
  await runRuns({ action: 'show', run: 'r2', store: store.root, json: true }, j.out);
  assert.equal((JSON.parse(j.text()) as { status: string }).status, 'incomplete');
});

test('runs show of an unknown run, or without a RUN, is a usage error', async () => {
  const store = await fixture();
  assert.equal(await main(['runs', 'show', 'nope', '--store', store.root]), 2);
  assert.equal(await main(['runs', 'show', '--store', store.root]), 2);
});
