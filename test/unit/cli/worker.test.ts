import { test } from 'node:test';
import assert from 'node:assert/strict';
import { commands } from '../../../cli/commands/index.ts';
import { main } from '../../../cli/main.ts';

/** Runs main with stderr captured and the store variables unset, as on a machine not yet configured. */
async function withoutStore(argv: string[]): Promise<{ code: number; stderr: string }> {
  const saved = { store: process.env.FIBERSCOPE_STORE, bucket: process.env.FIBERSCOPE_S3_BUCKET };
  delete process.env.FIBERSCOPE_STORE;
  delete process.env.FIBERSCOPE_S3_BUCKET;
  const chunks: string[] = [];
  const original = process.stderr.write.bind(process.stderr);
  // Writers that wait for the write callback must get it, or they wait forever.
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    chunks.push(String(chunk));
    const done = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
    if (done) process.nextTick(done);
    return true;
  }) as typeof process.stderr.write;
  try {
    return { code: await main(argv), stderr: chunks.join('') };
  } finally {
    process.stderr.write = original;
    if (saved.store !== undefined) process.env.FIBERSCOPE_STORE = saved.store;
    if (saved.bucket !== undefined) process.env.FIBERSCOPE_S3_BUCKET = saved.bucket;
  }
}

test('worker without --queue is a usage error', async () => {
  const { code, stderr } = await withoutStore(['worker']);
  assert.equal(code, 2);
  assert.match(stderr, /queue/);
});

test('worker refuses a queue other than control or sampling', async () => {
  const { code, stderr } = await withoutStore(['worker', '--queue', 'gpu']);
  assert.equal(code, 2);
  assert.match(stderr, /Choices: "control", "sampling"/);
});

test('a sampling worker with no store configured exits 2 naming FIBERSCOPE_STORE, before connecting', async () => {
  const { code, stderr } = await withoutStore(['worker', '--queue', 'sampling', '--provider', 'cpu']);
  assert.equal(code, 2);
  assert.match(stderr, /FIBERSCOPE_STORE: expected a folder, a file:\/\/ URL or s3:\/\/bucket\/prefix/);
});

test('a control worker on its own task queue also needs a store first', async () => {
  const { code, stderr } = await withoutStore(['worker', '--queue', 'control', '--task-queue', 'pool-a']);
  assert.equal(code, 2);
  assert.match(stderr, /FIBERSCOPE_STORE/);
});

test('worker is in the command table as available, not planned', () => {
  const spec = commands.find((c) => c.command === 'worker');
  assert.ok(spec);
  assert.doesNotMatch(spec.describe, /not yet available/);
});

test('service settings in FIBERSCOPE_* variables are not taken for unknown flags; a typed unknown flag still is', async () => {
  process.env.FIBERSCOPE_S3_ENDPOINT = 'http://127.0.0.1:1';
  process.env.FIBERSCOPE_TEMPORAL_ADDRESS = '127.0.0.1:1';
  try {
    const configured = await withoutStore(['worker', '--queue', 'sampling']);
    assert.equal(configured.code, 2);
    assert.doesNotMatch(configured.stderr, /Unknown argument/);
    assert.match(configured.stderr, /FIBERSCOPE_STORE/);
    const typed = await withoutStore(['worker', '--queue', 'sampling', '--s3-endpoint', 'http://elsewhere']);
    assert.equal(typed.code, 2);
    assert.match(typed.stderr, /Unknown arguments?: s3-endpoint/);
  } finally {
    delete process.env.FIBERSCOPE_S3_ENDPOINT;
    delete process.env.FIBERSCOPE_TEMPORAL_ADDRESS;
  }
});
