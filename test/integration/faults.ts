import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/**
 * A Temporal dev server and a SeaweedFS S3 store of a test's own, for tests that stop and start
 * servers: the shared services (infra/services.sh on the default ports) are never touched.
 */
export type ServiceName = 'temporal' | 's3';

export interface PrivateServices {
  /** FIBERSCOPE_* variables for clients of this instance (as `infra/services.sh env` prints them). */
  readonly env: Readonly<Record<string, string>>;
  /** Its FIBERSCOPE_SERVICES_DIR (data, logs, pid files). */
  readonly dir: string;
  /** Stops one server, keeping its data; resolves once its ports are free. */
  stop(service: ServiceName): Promise<void>;
  /** Brings a stopped server back on the same ports with the same data; resolves once healthy. */
  start(service: ServiceName): Promise<void>;
  /** Stops both servers and removes the folder. */
  down(): Promise<void>;
}

export interface PrivateServicesOptions {
  /** Which servers to start (default both). */
  services?: readonly ServiceName[];
}

const SCRIPT = fileURLToPath(new URL('../../infra/services.sh', import.meta.url));
const run = promisify(execFile);

/** The default ports of infra/services.sh; a private instance adds one offset to all of them. */
const DEFAULT_PORTS = {
  FIBERSCOPE_TEMPORAL_PORT: 7233,
  FIBERSCOPE_TEMPORAL_HTTP_PORT: 7243,
  FIBERSCOPE_TEMPORAL_METRICS_PORT: 7244,
  FIBERSCOPE_S3_PORT: 8333,
  FIBERSCOPE_S3_MASTER_PORT: 9333,
  FIBERSCOPE_S3_VOLUME_PORT: 9340,
  FIBERSCOPE_S3_FILER_PORT: 8888,
} as const;
/** SeaweedFS servers also listen on their port + 10000 (gRPC). */
const GRPC_OFFSET = 10000;
const GRPC_PORTS: ReadonlySet<string> = new Set(['FIBERSCOPE_S3_PORT', 'FIBERSCOPE_S3_MASTER_PORT', 'FIBERSCOPE_S3_VOLUME_PORT', 'FIBERSCOPE_S3_FILER_PORT']);

function portsAt(offset: number): { settings: Record<string, string>; all: number[] } {
  const settings: Record<string, string> = {};
  const all: number[] = [];
  for (const [name, port] of Object.entries(DEFAULT_PORTS)) {
    settings[name] = String(port + offset);
    all.push(port + offset);
    if (GRPC_PORTS.has(name)) all.push(port + offset + GRPC_OFFSET);
  }
  return { settings, all };
}

const SHARED_PORTS: ReadonlySet<number> = new Set(portsAt(0).all);

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * An offset whose ports are all free now and none of them a shared one. All ports stay below the
 * kernel's ephemeral range (32768 and up), where outgoing connections could take them meanwhile.
 */
async function freeOffset(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt += 1) {
    const offset = 200 + Math.floor(Math.random() * 13000);
    const { all } = portsAt(offset);
    if (all.some((p) => SHARED_PORTS.has(p))) continue;
    if ((await Promise.all(all.map(portFree))).every(Boolean)) return offset;
  }
  throw new Error('no free block of ports for private services below 32768');
}

async function script(env: NodeJS.ProcessEnv, ...args: string[]): Promise<string> {
  try {
    const { stdout } = await run('bash', [SCRIPT, ...args], { env, maxBuffer: 1 << 20 });
    return stdout;
  } catch (err) {
    const e = err as Error & { stdout?: string; stderr?: string };
    throw new Error(`infra/services.sh ${args.join(' ')} failed: ${e.stderr || e.message}${e.stdout ? `\n${e.stdout}` : ''}`, { cause: err });
  }
}

function parseEnv(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^export ([A-Z0-9_]+)=(.*)$/.exec(line);
    if (m) env[m[1]!] = m[2]!;
  }
  return env;
}

/**
 * Starts a private instance for one test file, named `name` (folders and logs carry it). The tools are
 * the ones `infra/services.sh up` installed (cached, shared): nothing is built here when they exist.
 * Call `down()` in an `after` hook.
 */
export async function privateServices(name: string, options: PrivateServicesOptions = {}): Promise<PrivateServices> {
  const services = options.services ?? ['temporal', 's3'];
  const dir = await mkdtemp(join(tmpdir(), `fiberscope-${name.replace(/[^A-Za-z0-9_-]/g, '_')}-`));
  // Two instances may pick overlapping blocks at the same moment: the script refuses a busy port,
  // so try a few other blocks before giving up.
  let lastError: unknown;
  for (let attempt = 0; attempt < 4; attempt += 1) {
    const offset = await freeOffset();
    const base: NodeJS.ProcessEnv = { ...withoutServiceSettings(process.env), ...portsAt(offset).settings, FIBERSCOPE_SERVICES_DIR: dir };
    try {
      for (const service of services) await script(base, 'start', service);
    } catch (err) {
      lastError = err;
      await script(base, 'down').catch(() => undefined);
      if (/already in use/.test((err as Error).message)) continue;
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
    // Later calls need only the folder: the script reads the recorded settings back.
    const scriptEnv: NodeJS.ProcessEnv = { ...withoutServiceSettings(process.env), FIBERSCOPE_SERVICES_DIR: dir };
    const env = { ...parseEnv(await script(scriptEnv, 'env')), FIBERSCOPE_SERVICES_DIR: dir };
    return {
      env,
      dir,
      stop: async (service) => void (await script(scriptEnv, 'stop', service)),
      start: async (service) => void (await script(scriptEnv, 'start', service)),
      down: async () => {
        await script(scriptEnv, 'down');
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
  await rm(dir, { recursive: true, force: true });
  throw lastError;
}

/** The caller's environment without the settings the script records (a shell that ran `env` has them). */
function withoutServiceSettings(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) if (!/^FIBERSCOPE_(TEMPORAL|S3)_/.test(k)) out[k] = v;
  return out;
}
