import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../../cli/main.ts';
import type { S3Store } from '../../store/objects.ts';
import { runLayout } from '../../store/layout.ts';
import { TINY_SAMPLER_FLAGS, tinyImage, writeTinyPair } from '../fixtures/tiny-pair.ts';
import type { TinyPair } from '../fixtures/tiny-pair.ts';
import { captureStderr, captureStdout } from '../unit/cli/fixtures.ts';
import { s3Store, temporalSettings, uniqueName, useServiceEnvironment } from './services.ts';
import { freePort } from './worker-process.ts';

// Every command that reaches storage or Temporal, against the real services: a server that is not
// there (nothing listens on its port), refused credentials, a missing bucket, an unknown namespace.
// Each failure is one line naming the endpoint and what to check, with the README's exit code, no
// stack and no secret, and nothing already in the store changes.

const bucket = useServiceEnvironment();
process.env.FIBERSCOPE_CACHE_DIR = await mkdtemp(join(tmpdir(), 'fiberscope-cache-'));
const prefix = uniqueName('command-failures');
const storeSpec = `s3://${bucket}/${prefix}`;
const runId = uniqueName('run');
const runUri = `${storeSpec}/runs/${runId}`;
let store: S3Store;
let pair: TinyPair;
let query: string;
let deadPort: number;
const NO_STACK = /\n\s+at .+:\d+:\d+/;

before(async () => {
  store = await s3Store(prefix);
  const dir = await mkdtemp(join(tmpdir(), 'fiberscope-command-failures-'));
  pair = await writeTinyPair(dir);
  const dataset = join(dir, 'images');
  await mkdir(dataset);
  for (let i = 0; i < 4; i++) await writeFile(join(dataset, `q${i}.png`), tinyImage(i));
  query = join(dataset, 'q0.png');
  const audited = await captureStderr(() =>
    main(['audit', '--dataset', dataset, '--prior', pair.prior, '--extractor', pair.extractor, '--out', storeSpec, '--run-id', runId, '-k', '2', '--probes', 'hflip', ...TINY_SAMPLER_FLAGS]),
  );
  assert.equal(audited.code, 0, audited.stderr);
  deadPort = await freePort();
});

after(() => store?.client.destroy());

/** Runs `fiberscope ARGS` in this process with `env` over the environment; restores it after. */
async function withEnv(env: Record<string, string>, args: string[]): Promise<{ code: number; stderr: string }> {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    return await captureStderr(() => main(args));
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** The commands that read or write the store, each given the store (or a run in it) to use. */
function storeCommands(spec: string, run: string): [string, string[]][] {
  return [
    ['runs list', ['runs', 'list', '--store', spec]],
    ['runs show', ['runs', 'show', run]],
    ['check', ['check', '--baseline', run, '--candidate', run]],
    ['cross', ['cross', '--run', run, '--extractor', pair.extractor]],
    ['serve', ['serve', '--store', spec, '--port', '0']],
    ['sample', ['sample', '--prior', pair.prior, '--extractor', pair.extractor, '--query', query, '--out', `${spec}/sample`, '-k', '1', ...TINY_SAMPLER_FLAGS]],
  ];
}

/** One line (the message), no stack, none of `secrets`. */
function assertOneLine(what: string, stderr: string, pattern: RegExp, secrets: string[] = []): void {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, `${what}: one line, got:\n${stderr}`);
  assert.match(lines[0]!, pattern, what);
  assert.doesNotMatch(stderr, NO_STACK, what);
  for (const s of secrets) assert.ok(!stderr.includes(s), `${what}: no credentials in the message`);
}

async function runObjects(): Promise<string[]> {
  return await store.list(`${runLayout(runId).base}/`);
}

test('no S3 server at the endpoint: every store command says storage unreachable at it, exit 4', async () => {
  const before = await runObjects();
  const endpoint = `http://127.0.0.1:${deadPort}`;
  for (const [what, args] of storeCommands(storeSpec, runUri)) {
    const { code, stderr } = await withEnv({ FIBERSCOPE_S3_ENDPOINT: endpoint }, args);
    assert.equal(code, 4, `${what}: ${stderr}`);
    assertOneLine(what, stderr, new RegExp(`^fiberscope: storage unreachable at ${endpoint} \\(s3://${bucket}/${prefix}[^)]*\\): .*check that the S3 server runs and FIBERSCOPE_S3_ENDPOINT points at it$`));
  }
  assert.deepEqual(await runObjects(), before, 'nothing written is lost');
});

test('credentials refused: every store command names the endpoint and the variables to check, never the keys; exit 2', async () => {
  const before = await runObjects();
  const endpoint = process.env.FIBERSCOPE_S3_ENDPOINT!;
  const wrong = 'wrong-secret-f3b1c9';
  for (const [what, args] of storeCommands(storeSpec, runUri)) {
    const { code, stderr } = await withEnv({ FIBERSCOPE_S3_SECRET_KEY: wrong }, args);
    assert.equal(code, 2, `${what}: ${stderr}`);
    assertOneLine(what, stderr, new RegExp(`^fiberscope: storage credentials refused by ${endpoint} for s3://${bucket}/${prefix}.*check FIBERSCOPE_S3_ACCESS_KEY and FIBERSCOPE_S3_SECRET_KEY`), [wrong, process.env.FIBERSCOPE_S3_SECRET_KEY!]);
  }
  assert.deepEqual(await runObjects(), before, 'nothing written is lost');
});

test('a missing bucket: every store command names the bucket and the endpoint; exit 2', async () => {
  const endpoint = process.env.FIBERSCOPE_S3_ENDPOINT!;
  const missing = `s3://no-such-bucket-${Date.now().toString(36)}/audits`;
  for (const [what, args] of storeCommands(missing, `${missing}/runs/${runId}`)) {
    const { code, stderr } = await withEnv({}, args);
    assert.equal(code, 2, `${what}: ${stderr}`);
    assertOneLine(what, stderr, new RegExp(`^fiberscope: storage bucket missing: ${missing}.* does not exist at ${endpoint}; create the bucket`));
  }
});

/** The commands that reach Temporal (the store is fine). */
function temporalCommands(): [string, string[]][] {
  return [
    ['schedule list', ['schedule', 'list']],
    ['schedule create', ['schedule', 'create', uniqueName('sched'), '--every', '1h', '--dataset', query, '--prior', pair.prior, '--extractor', pair.extractor, '--out', storeSpec, ...TINY_SAMPLER_FLAGS]],
    ['audit --follow', ['audit', '--engine', 'temporal', '--follow', runId]],
    ['audit --resume', ['audit', '--engine', 'temporal', '--resume', runId, '--out', storeSpec]],
  ];
}

test('no Temporal server at the address: schedule and audit say Temporal unreachable at it, exit 4', async () => {
  const before = await runObjects();
  const address = `127.0.0.1:${deadPort}`;
  for (const [what, args] of temporalCommands()) {
    const { code, stderr } = await withEnv({ FIBERSCOPE_TEMPORAL_ADDRESS: address }, args);
    assert.equal(code, 4, `${what}: ${stderr}`);
    assertOneLine(what, stderr, new RegExp(`^fiberscope: Temporal unreachable at ${address}: .*check that the Temporal server runs and FIBERSCOPE_TEMPORAL_ADDRESS points at it$`));
  }
  assert.deepEqual(await runObjects(), before, 'nothing written is lost');
});

test('an unknown namespace: schedule and audit name it and what to check, exit 2', async () => {
  for (const [what, args] of temporalCommands()) {
    const { code, stderr } = await withEnv({ FIBERSCOPE_TEMPORAL_NAMESPACE: 'no-such-namespace-fiberscope' }, args);
    assert.equal(code, 2, `${what}: ${stderr}`);
    assertOneLine(what, stderr, /^fiberscope: Temporal namespace 'no-such-namespace-fiberscope' not found; check FIBERSCOPE_TEMPORAL_NAMESPACE/);
  }
});

const bin = fileURLToPath(new URL('../../bin/fiberscope.js', import.meta.url));

/** `fiberscope worker ARGS` as its own process until it exits by itself (a refused start must not hang). */
async function workerExit(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [bin, 'worker', '--store', storeSpec, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), 90_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearTimeout(killer);
  return { code, stderr };
}

/** The message line of a worker's stderr (Node and the SDK may write warnings before it). */
const fiberscopeLine = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('fiberscope: '));

test('a worker that cannot start says why and exits: Temporal unreachable (4), unknown namespace (2), its HTTP port taken (2)', async () => {
  const address = `127.0.0.1:${deadPort}`;
  const unreachable = await workerExit(['--queue', 'sampling', '--http-port', '0'], { FIBERSCOPE_TEMPORAL_ADDRESS: address });
  assert.equal(unreachable.code, 4, unreachable.stderr);
  assert.deepEqual(fiberscopeLine(unreachable.stderr).length, 1, unreachable.stderr);
  assert.match(fiberscopeLine(unreachable.stderr)[0]!, new RegExp(`^fiberscope: Temporal unreachable at ${address}: .*--temporal-address \\(FIBERSCOPE_TEMPORAL_ADDRESS\\)`));

  for (const queue of ['control', 'sampling']) {
    const namespace = await workerExit(['--queue', queue, '--http-port', '0'], { FIBERSCOPE_TEMPORAL_NAMESPACE: 'no-such-namespace-fiberscope' });
    assert.equal(namespace.code, 2, `${queue}: ${namespace.stderr}`);
    assert.match(fiberscopeLine(namespace.stderr)[0] ?? '', new RegExp(`^fiberscope: Temporal namespace 'no-such-namespace-fiberscope' not found at ${temporalSettings().address}; check --namespace`), namespace.stderr);
  }

  const taken: Server = createServer();
  const port = await new Promise<number>((resolve) => taken.listen(0, '127.0.0.1', () => resolve((taken.address() as { port: number }).port)));
  try {
    const busy = await workerExit(['--queue', 'sampling', '--http-port', String(port), '--http-host', '127.0.0.1']);
    assert.equal(busy.code, 2, busy.stderr);
    assert.match(fiberscopeLine(busy.stderr)[0] ?? '', new RegExp(`^fiberscope: --http-port: 127\\.0\\.0\\.1:${port} is already in use; pick another port`), busy.stderr);
    assert.doesNotMatch(busy.stderr, /Cannot close connection/);
  } finally {
    taken.close();
  }
});

test('a run recorded as running on Temporal whose audit is gone (its failure could not be recorded) is listed incomplete, not running; with Temporal unreachable the record stands', async () => {
  // Last in this file: it rewrites the run's record and removes its summary.
  const layout = runLayout(runId);
  await store.put(layout.status, JSON.stringify({ state: 'running', engine: 'temporal', workflowId: `audit/${uniqueName('never-submitted')}`, phase: 'sampling', updatedAt: new Date().toISOString() }));
  await store.delete(layout.summaryJson);
  const list = async (env: Record<string, string>) => {
    const { code, stdout } = await captureStdout(async () => await withEnvQuiet(env, ['runs', 'list', '--store', storeSpec, '--json']));
    assert.equal(code, 0);
    return (JSON.parse(stdout) as { runId: string; status: string }[]).find((r) => r.runId === runId)?.status;
  };
  assert.equal(await list({}), 'incomplete', 'Temporal has no such audit');
  assert.equal(await list({ FIBERSCOPE_TEMPORAL_ADDRESS: `127.0.0.1:${deadPort}` }), 'running', "Temporal does not answer: the record's word");
});

/** As `withEnv`, returning only the exit code (stdout is captured by the caller). */
async function withEnvQuiet(env: Record<string, string>, args: string[]): Promise<number> {
  return (await withEnv(env, args)).code;
}
