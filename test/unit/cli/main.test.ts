import { test } from 'node:test';
import assert from 'node:assert/strict';
import { main } from '../../../cli/main.ts';

test('an unknown command is a usage error (exit 2)', async () => {
  assert.equal(await main(['no-such-command']), 2);
});

test('schedule without an action, or create without a time, is a usage error (exit 2)', async () => {
  assert.equal(await main(['schedule']), 2);
  assert.equal(await main(['schedule', 'create', 'nightly', '--dataset', 'd', '--prior', 'p', '--extractor', 'e']), 2);
  assert.equal(await main(['schedule', 'pause']), 2);
});

test('service settings in the environment are not taken for flags', async () => {
  const { spawnSync } = await import('node:child_process');
  const bin = new URL('../../../bin/fiberscope.js', import.meta.url).pathname;
  const env = { ...process.env, FIBERSCOPE_S3_BUCKET: 'b', FIBERSCOPE_TEMPORAL_ADDRESS: '127.0.0.1:1', FIBERSCOPE_STORE: '/tmp/x' };
  const r = spawnSync(process.execPath, [bin, 'report', '--run', 'none-such'], { env, encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /no run 'none-such' in file:\/\/\/tmp\/x/, 'FIBERSCOPE_STORE is the default store');
  assert.doesNotMatch(r.stderr, /Unknown argument/);
});
