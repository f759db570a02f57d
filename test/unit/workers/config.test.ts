import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../../../engine/errors.ts';
import { resolveWorkerConfig, WORKER_DEFAULTS } from '../../../workers/config.ts';
import { shutdownTimesOf } from '../../../workers/lifecycle.ts';

async function configFile(content: unknown): Promise<string> {
  const path = join(await mkdtemp(join(tmpdir(), 'fiberscope-worker-config-')), 'worker.json');
  await writeFile(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

const refusedNaming = (input: string, message?: RegExp) => (err: unknown) =>
  err instanceof InputError && err.input === input && (message === undefined || message.test(err.message));

test('defaults: the queue names its task queue, endpoint on 9464, 120 s grace, services defaults for Temporal', () => {
  const c = resolveWorkerConfig({ queue: 'sampling' }, { FIBERSCOPE_STORE: '/data/runs' });
  assert.deepEqual(c, {
    queue: 'sampling',
    taskQueue: 'sampling',
    store: '/data/runs',
    provider: undefined,
    httpPort: WORKER_DEFAULTS.httpPort,
    httpHost: '0.0.0.0',
    shutdownGraceSeconds: 120,
    temporal: { address: '127.0.0.1:7233', namespace: 'default' },
  });
});

test('flags override the environment, which overrides the config file (camelCase and kebab-case keys)', async () => {
  const path = await configFile({ queue: 'sampling', 'task-queue': 'gpu-a100', httpPort: 9000, 'shutdown-grace': 30, store: 's3://file-bucket', provider: 'cuda', namespace: 'audits' });
  const fileOnly = resolveWorkerConfig({ config: path }, {});
  assert.deepEqual(
    [fileOnly.queue, fileOnly.taskQueue, fileOnly.httpPort, fileOnly.shutdownGraceSeconds, fileOnly.store, fileOnly.provider, fileOnly.temporal.namespace],
    ['sampling', 'gpu-a100', 9000, 30, 's3://file-bucket', 'cuda', 'audits'],
  );
  const env = { FIBERSCOPE_WORKER_CONFIG: path, FIBERSCOPE_WORKER_HTTP_PORT: '9100', FIBERSCOPE_SHUTDOWN_GRACE: '45', FIBERSCOPE_STORE: '/env/runs' };
  const envOverFile = resolveWorkerConfig({}, env);
  assert.deepEqual([envOverFile.httpPort, envOverFile.shutdownGraceSeconds, envOverFile.store, envOverFile.taskQueue], [9100, 45, '/env/runs', 'gpu-a100']);
  const flagsOverAll = resolveWorkerConfig({ httpPort: 0, shutdownGrace: 5, store: '/flag/runs', queue: 'control', taskQueue: undefined }, env);
  assert.deepEqual([flagsOverAll.httpPort, flagsOverAll.shutdownGraceSeconds, flagsOverAll.store, flagsOverAll.queue], [0, 5, '/flag/runs', 'control']);
});

test('bad settings are refused at start, naming the key where it was given', async () => {
  const env = { FIBERSCOPE_STORE: '/runs' };
  assert.throws(() => resolveWorkerConfig({}, env), refusedNaming('--queue', /expected control or sampling/));
  assert.throws(() => resolveWorkerConfig({ queue: 'sampling', httpPort: 70000 }, env), refusedNaming('--http-port', /0\.\.65535/));
  assert.throws(() => resolveWorkerConfig({ queue: 'sampling' }, { ...env, FIBERSCOPE_WORKER_HTTP_PORT: 'ninety' }), refusedNaming('FIBERSCOPE_WORKER_HTTP_PORT', /expected a number/));
  assert.throws(() => resolveWorkerConfig({ queue: 'sampling' }, { ...env, FIBERSCOPE_SHUTDOWN_GRACE: '-1' }), refusedNaming('FIBERSCOPE_SHUTDOWN_GRACE', /seconds/));
  assert.throws(() => resolveWorkerConfig({ queue: 'sampling' }, { ...env, FIBERSCOPE_PROVIDER: 'tpu' }), refusedNaming('FIBERSCOPE_PROVIDER', /cpu, cuda, webgpu/));
  assert.throws(() => resolveWorkerConfig({ queue: 'sampling', temporalAddress: 'http://temporal:7233' }, env), refusedNaming('--temporal-address', /HOST:PORT/));
  assert.throws(() => resolveWorkerConfig({ queue: 'sampling' }, {}), refusedNaming('FIBERSCOPE_STORE'));

  const unknown = await configFile({ queue: 'sampling', 'http-prot': 9000 });
  assert.throws(() => resolveWorkerConfig({ config: unknown }, env), refusedNaming(`${unknown}: http-prot`, /unknown key; expected one of queue, task-queue/));
  const wrongType = await configFile({ queue: 'sampling', httpPort: '9000' });
  assert.throws(() => resolveWorkerConfig({ config: wrongType }, env), refusedNaming(`${wrongType}: httpPort`, /expected a number, got "9000"/));
  const badValue = await configFile({ queue: 'sampling', 'shutdown-grace': 0 });
  assert.throws(() => resolveWorkerConfig({ config: badValue }, env), refusedNaming(`${badValue}: shutdown-grace`));
  const notJson = await configFile('{queue: sampling');
  assert.throws(() => resolveWorkerConfig({ config: notJson }, env), refusedNaming(`--config ${notJson}`, /expected JSON/));
  assert.throws(() => resolveWorkerConfig({ config: '/no/such/worker.json' }, env), refusedNaming('--config', /cannot read '\/no\/such\/worker.json'/));
});

test('the grace period is spent in order: activities finish, then are cancelled, then the worker stops waiting', () => {
  const t = shutdownTimesOf(120);
  assert.deepEqual(t, { shutdownGraceTime: 96_000, shutdownForceTime: 114_000 });
  assert.ok(t.shutdownGraceTime < t.shutdownForceTime && t.shutdownForceTime < 120_000);
});
