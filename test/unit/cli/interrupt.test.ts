import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../../../cli/main.ts';
import { readSampleRows } from '../../../store/tables.ts';
import { TINY_SAMPLER_FLAGS, tinyImage, writeTinyPair } from '../../fixtures/tiny-pair.ts';
import { captureStderr, tempDir } from './fixtures.ts';

const bin = fileURLToPath(new URL('../../../bin/fiberscope.js', import.meta.url));

test('Ctrl-C stops a local audit cleanly: one message with what is kept and the resume command, exit 4, status cancelled; --resume completes every (image, sample) once', async () => {
  const dir = tempDir();
  const pair = await writeTinyPair(dir);
  const dataset = join(dir, 'images');
  await mkdir(dataset);
  const IMAGES = 120;
  for (let i = 0; i < IMAGES; i++) await writeFile(join(dataset, `q${String(i).padStart(4, '0')}.png`), tinyImage(i));
  const out = join(dir, 'store');
  const runId = 'interrupted';
  const child = spawn(
    process.execPath,
    [bin, 'audit', '--dataset', dataset, '--prior', pair.prior, '--extractor', pair.extractor, '--out', out, '--run-id', runId, '-k', '2', '--probes', 'hflip', '--batch-images', '1', '--shard-size', '40', ...TINY_SAMPLER_FLAGS],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FIBERSCOPE_CACHE_DIR: join(dir, 'cache') } },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const parts = join(out, 'runs', runId, 'parts', 'shard-00000');
  for (let i = 0; i < 600 && !(existsSync(parts) && (await readdir(parts)).some((f) => f.endsWith('.json'))); i++) await new Promise((r) => setTimeout(r, 50));
  child.kill('SIGINT');
  const code = await exited;

  assert.equal(code, 4, stderr);
  const lines = stderr.split('\n').filter((l) => l.trim() !== '' && !/warning|node >=22|AWS SDK|a\.co\/|trace-warnings|security updates|will require|versions published|More information/i.test(l));
  assert.match(lines[0]!, /^SIGINT: stopping the run/);
  assert.match(lines[1]!, new RegExp(`^fiberscope: run ${runId} stopped while sampling shard shard-0000\\d: cancelled: interrupted by SIGINT$`));
  assert.match(lines[2]!, /^ {2}kept: \d of 3 shards done, \d+ batches of shard-0000\d; nothing written is lost$/);
  assert.equal(lines[3], `  to finish the run: fiberscope audit --resume ${runId} --out ${out}`);
  assert.doesNotMatch(stderr, /\n\s+at .+:\d+:\d+/, 'no stack');
  const status = JSON.parse(await readFile(join(out, 'runs', runId, 'status.json'), 'utf8')) as { state: string; error?: { kind: string } };
  assert.deepEqual([status.state, status.error?.kind], ['failed', 'cancelled']);

  const resumed = await captureStderr(() => main(['audit', '--resume', runId, '--out', out]));
  assert.equal(resumed.code, 0, resumed.stderr);
  const shards = join(out, 'runs', runId, 'shards');
  const tables = (await readdir(shards)).filter((f) => /^shard-\d+\.arrow$/.test(f));
  const rows = (await Promise.all(tables.map(async (f) => readSampleRows(await readFile(join(shards, f)), f)))).flat();
  assert.equal(rows.length, IMAGES * 2, 'every (image, sample)');
  assert.equal(new Set(rows.map((r) => `${r.image_id}#${r.sample_index}`)).size, rows.length, 'none twice');
});
