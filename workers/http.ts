import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { InputError } from '../engine/errors.ts';

export interface WorkerEndpointOptions {
  host: string;
  /** 0 asks the system for a free port (tests); the chosen one is in `port`. */
  port: number;
  registry: Registry;
  /** Readiness: connected to Temporal and polling, not draining. */
  ready: () => boolean;
}

export interface WorkerEndpoint {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * The worker's one HTTP listener: GET /healthz (liveness: answering at all means the event loop
 * runs), GET /readyz (200 while polling, 503 before and while shutting down) and GET /metrics
 * (Prometheus text format). Nothing else is served.
 */
export async function serveWorkerEndpoint(options: WorkerEndpointOptions): Promise<WorkerEndpoint> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const reply = (status: number, body: string, type = 'text/plain; charset=utf-8') => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(405, 'method not allowed\n');
    if (path === '/healthz') return reply(200, 'ok\n');
    if (path === '/readyz') return options.ready() ? reply(200, 'ready\n') : reply(503, 'not ready\n');
    if (path === '/metrics') {
      options.registry.metrics().then(
        (text) => reply(200, text, options.registry.contentType),
        (err: unknown) => reply(500, `metrics failed: ${(err as Error).message}\n`),
      );
      return;
    }
    reply(404, 'not found: /healthz, /readyz, /metrics\n');
  });
  // A scraper's idle keep-alive connection must not hold the process open at shutdown.
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'EADDRINUSE' ? 'is already in use' : err.code === 'EACCES' ? 'needs privileges' : `failed: ${err.message}`;
      reject(new InputError('--http-port', `${options.host}:${options.port} ${why}; pick another port (0: no endpoint)`, { cause: err }));
    });
    server.listen(options.port, options.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
