import { existsSync } from 'node:fs';
import { InputError, ServiceError } from '../../engine/errors.ts';
import { FileStore, openStore } from '../../store/objects.ts';
import { TemporalProgress } from '../../serve/progress.ts';
import { isLoopback, startDashboard } from '../../serve/server.ts';
import { temporalSettingsFromEnv } from '../../workers/env.ts';
import { EXIT } from '../exit.ts';

export interface ServeArgs {
  store: string;
  temporalAddress?: string;
  namespace?: string;
  host: string;
  port: number;
  pageSize: number;
  /** Resolves when the server should stop; default SIGINT or SIGTERM. */
  until?: Promise<void>;
  /** Called once the server listens, with its URL. */
  onListening?: (url: string) => void;
}

const signalled = () =>
  new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });

/** `fiberscope serve`: the read-only dashboard over a store until SIGINT/SIGTERM. */
export async function runServe(args: ServeArgs): Promise<number> {
  if (!Number.isInteger(args.port) || args.port < 0 || args.port > 65535) throw new InputError('--port', `expected a port number 0-65535, got '${args.port}'`);
  if (!Number.isInteger(args.pageSize) || args.pageSize < 1 || args.pageSize > 500) throw new InputError('--page-size', `expected 1-500 images per page, got '${args.pageSize}'`);
  if (args.host.trim() === '') throw new InputError('--host', 'expected an interface address such as 127.0.0.1');
  const store = openStore(args.store);
  // A folder that does not exist is a mistyped store, not an empty one.
  if (store instanceof FileStore && !existsSync(store.root)) throw new InputError('--store', `no folder ${store.root}`);
  // A store that cannot be listed is refused now, not on the first page view.
  // A service failure (unreachable, credentials, bucket) keeps its own message and exit code.
  await store.listFolders('runs/').catch((err: unknown) => {
    if (err instanceof ServiceError) throw err;
    throw new InputError('--store', `cannot list runs in ${store.location}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  });
  const env = temporalSettingsFromEnv();
  const temporal = new TemporalProgress(args.temporalAddress ?? env.address, args.namespace ?? env.namespace);
  if (!isLoopback(args.host)) {
    process.stderr.write(`warning: listening on ${args.host}, not loopback: anyone who can reach this interface can read every run of ${store.location}\n`);
  }
  const dashboard = await startDashboard({ store, temporal, host: args.host, port: args.port, pageSize: args.pageSize }).catch((err: unknown) => {
    throw new InputError('--port', `cannot listen on ${args.host}:${args.port}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  });
  process.stderr.write(`dashboard of ${store.location} at ${dashboard.url} (live progress from Temporal at ${temporal.address}, namespace ${temporal.namespace})\n`);
  args.onListening?.(dashboard.url);
  await (args.until ?? signalled());
  await dashboard.close();
  return EXIT.ok;
}
