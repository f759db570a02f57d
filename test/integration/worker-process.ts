import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { scrape } from '../helpers/prometheus.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** A port that was free a moment ago. */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Polls `check` every 100 ms until it holds; fails after `ms` with `what`. */
export async function until(what: string, check: () => Promise<boolean> | boolean, ms = 120_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface WorkerProcess {
  readonly child: ChildProcess;
  readonly port: number;
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  metrics(): Promise<string>;
}

const live = new Set<ChildProcess>();

/**
 * Starts `fiberscope worker ARGS --http-port P --http-host 127.0.0.1` as its own process, as an
 * operator would, and waits until its /readyz answers 200 (connected and polling).
 */
export async function spawnWorker(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<WorkerProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, ['bin/fiberscope.js', 'worker', ...args, '--http-port', String(port), '--http-host', '127.0.0.1'], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let text = '';
  child.stdout?.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (text += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    }),
  );
  let gone = false;
  void exited.then(() => (gone = true));
  await until(`worker on port ${port} to be ready`, async () => {
    if (gone) throw new Error(`worker exited before it was ready:\n${text}`);
    return await fetch(`http://127.0.0.1:${port}/readyz`).then(
      (r) => r.status === 200,
      () => false,
    );
  });
  return { child, port, exited, output: () => text, metrics: () => scrape(port) };
}

/** Kills every worker process these helpers started that is still running (a failed test's leftovers). */
export async function killWorkers(): Promise<void> {
  const waits = [...live].map((c) => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r(null) : c.once('exit', r))));
  for (const c of live) c.kill('SIGKILL');
  await Promise.all(waits);
}
