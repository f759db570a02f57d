import { readFileSync } from 'node:fs';
import { InputError } from '../engine/errors.ts';
import { PROVIDERS } from '../engine/runtime/index.ts';
import type { Provider } from '../engine/runtime/index.ts';
import { TASK_QUEUES } from '../workflows/task-queues.ts';
import { storeSpecFromEnv, temporalSettingsFromEnv } from './env.ts';
import type { TemporalSettings } from './env.ts';

export type WorkerQueue = keyof typeof TASK_QUEUES;

/** A worker's settings as given: every key optional (flags, a config file). */
export interface WorkerSettings {
  queue?: string;
  taskQueue?: string;
  store?: string;
  provider?: string;
  httpPort?: number;
  httpHost?: string;
  shutdownGrace?: number;
  temporalAddress?: string;
  namespace?: string;
}

/** Resolved and validated once at start-up, in plain units. */
export interface WorkerConfig {
  queue: WorkerQueue;
  taskQueue: string;
  store: string;
  /** A sampling worker's execution provider; undefined: the run's. */
  provider: Provider | undefined;
  /** 0: no HTTP endpoint. */
  httpPort: number;
  httpHost: string;
  shutdownGraceSeconds: number;
  temporal: TemporalSettings;
}

export const WORKER_DEFAULTS = { httpPort: 9464, httpHost: '0.0.0.0', shutdownGraceSeconds: 120 } as const;

const KEYS = ['queue', 'taskQueue', 'store', 'provider', 'httpPort', 'httpHost', 'shutdownGrace', 'temporalAddress', 'namespace'] as const;
type Key = (typeof KEYS)[number];
const NUMERIC: ReadonlySet<Key> = new Set(['httpPort', 'shutdownGrace']);

const kebab = (k: string) => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const camel = (k: string) => k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/**
 * Reads a JSON config file whose keys are the worker's flag names, camelCase or kebab-case. Unknown
 * keys and values of the wrong type are refused naming the file and the key, before anything starts.
 */
export function readWorkerConfigFile(path: string): WorkerSettings {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new InputError('--config', `cannot read '${path}': ${(err as Error).message}`, { cause: err });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new InputError(`--config ${path}`, `expected JSON: ${(err as Error).message}`, { cause: err });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new InputError(`--config ${path}`, 'expected a JSON object whose keys are worker flag names');
  }
  const out: Record<string, unknown> = {};
  for (const [raw, value] of Object.entries(parsed)) {
    const key = camel(raw) as Key;
    if (!KEYS.includes(key)) {
      throw new InputError(`${path}: ${raw}`, `unknown key; expected one of ${KEYS.map(kebab).join(', ')}`);
    }
    const wanted = NUMERIC.has(key) ? 'number' : 'string';
    if (typeof value !== wanted) throw new InputError(`${path}: ${raw}`, `expected a ${wanted}, got ${JSON.stringify(value)}`);
    out[key] = value;
  }
  return out as WorkerSettings;
}

function envNumber(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const v = env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new InputError(name, `expected a number, got '${v}'`);
  return n;
}

function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== '')) as Partial<T>;
}

/**
 * Merges a worker's settings, flags over environment over config file over defaults, and validates
 * them: every error names the key as the user wrote it (the flag; the variable it came from).
 */
export function resolveWorkerConfig(flags: WorkerSettings & { config?: string }, env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  const configPath = flags.config ?? (env.FIBERSCOPE_WORKER_CONFIG || undefined);
  const file = configPath === undefined ? {} : readWorkerConfigFile(configPath);
  const fromEnv: WorkerSettings = defined({
    store: env.FIBERSCOPE_STORE,
    provider: env.FIBERSCOPE_PROVIDER,
    httpPort: envNumber(env, 'FIBERSCOPE_WORKER_HTTP_PORT'),
    httpHost: env.FIBERSCOPE_WORKER_HTTP_HOST,
    shutdownGrace: envNumber(env, 'FIBERSCOPE_SHUTDOWN_GRACE'),
    temporalAddress: env.FIBERSCOPE_TEMPORAL_ADDRESS,
    namespace: env.FIBERSCOPE_TEMPORAL_NAMESPACE,
  });
  const s: WorkerSettings = { ...defined(file), ...fromEnv, ...defined(flags) };
  const origin = (key: Key, envName?: string): string => {
    if (flags[key] !== undefined) return `--${kebab(key)}`;
    if (envName !== undefined && fromEnv[key] !== undefined) return envName;
    return `${configPath}: ${kebab(key)}`;
  };

  if (s.queue !== 'control' && s.queue !== 'sampling') {
    throw new InputError(s.queue === undefined ? '--queue' : origin('queue'), `expected control or sampling, got ${JSON.stringify(s.queue)}`);
  }
  const queue: WorkerQueue = s.queue;
  if (s.provider !== undefined && !PROVIDERS.includes(s.provider as Provider)) {
    throw new InputError(origin('provider', 'FIBERSCOPE_PROVIDER'), `expected one of ${PROVIDERS.join(', ')}, got '${s.provider}'`);
  }
  const httpPort = s.httpPort ?? WORKER_DEFAULTS.httpPort;
  if (!Number.isInteger(httpPort) || httpPort < 0 || httpPort > 65535) {
    throw new InputError(origin('httpPort', 'FIBERSCOPE_WORKER_HTTP_PORT'), `expected a port in 0..65535 (0: no endpoint), got ${httpPort}`);
  }
  const grace = s.shutdownGrace ?? WORKER_DEFAULTS.shutdownGraceSeconds;
  if (!(grace > 0 && grace <= 86_400)) {
    throw new InputError(origin('shutdownGrace', 'FIBERSCOPE_SHUTDOWN_GRACE'), `expected seconds in (0, 86400], got ${grace}`);
  }
  if (s.taskQueue !== undefined && s.taskQueue.trim() === '') throw new InputError(origin('taskQueue'), 'expected a task queue name');
  const temporal = temporalSettingsFromEnv({
    FIBERSCOPE_TEMPORAL_ADDRESS: s.temporalAddress,
    FIBERSCOPE_TEMPORAL_NAMESPACE: s.namespace,
  });
  if (!/^\S+:\d{1,5}$/.test(temporal.address) || temporal.address.includes('://')) {
    throw new InputError(origin('temporalAddress', 'FIBERSCOPE_TEMPORAL_ADDRESS'), `expected HOST:PORT, got '${temporal.address}'`);
  }
  return {
    queue,
    taskQueue: s.taskQueue ?? TASK_QUEUES[queue],
    // The store's own checks (openStore) run when the worker opens it, still before connecting.
    store: s.store ?? storeSpecFromEnv(env),
    provider: s.provider as Provider | undefined,
    httpPort,
    httpHost: s.httpHost ?? WORKER_DEFAULTS.httpHost,
    shutdownGraceSeconds: grace,
    temporal,
  };
}
