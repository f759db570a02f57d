import { randomBytes } from 'node:crypto';
import { realpath } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, sep } from 'node:path';
import { InputError } from '../engine/errors.ts';
import { readRunExtras } from '../report/extras.ts';
import { renderRunPage, runView } from '../report/run-page.ts';
import type { ImageFilter, RunView } from '../report/run-page.ts';
import { describeRun, listRuns } from '../runs/catalogue.ts';
import type { CatalogueOptions, RunDetails, RunState } from '../runs/catalogue.ts';
import { readImageRows } from '../store/image-tables.ts';
import { runLayout } from '../store/layout.ts';
import { checkKey, FileStore, ObjectNotFoundError } from '../store/objects.ts';
import type { ObjectStore } from '../store/objects.ts';
import { inParallel } from '../store/parallel.ts';
import { readSampleRows } from '../store/tables.ts';
import type { SampleRow } from '../store/sample-rows.ts';
import { filterRuns, renderPendingRun, renderRunList, renderSchedule, runHref, stateBadge, progressText } from './pages.ts';
import type { ListedRun, RunListFilter } from './pages.ts';
import type { LiveProgress, TemporalProgress } from './progress.ts';

/**
 * `fiberscope serve`: a read-only web app over a store. GET and HEAD only; nothing is written; a
 * file is served only by a key the store accepts (no `..`, no absolute path) and, in a folder store,
 * only when its real path stays inside the store's folder.
 */

export interface DashboardOptions {
  store: ObjectStore;
  /** Live progress of Temporal audits; null: running runs are taken at their status record's word. */
  temporal: TemporalProgress | null;
  /** Images per run page; default 24. */
  pageSize?: number;
  /** Where request failures are logged (never credentials: messages name keys and stores only). */
  log?: (line: string) => void;
}

const STATES: readonly RunState[] = ['running', 'done', 'failed', 'incomplete'];

/** Files of a run folder the dashboard hands out, by extension: images inline, tables as downloads. */
const FILE_TYPES: Record<string, { type: string; download: boolean }> = {
  png: { type: 'image/png', download: false },
  jpg: { type: 'image/jpeg', download: false },
  jpeg: { type: 'image/jpeg', download: false },
  json: { type: 'application/json', download: true },
  arrow: { type: 'application/vnd.apache.arrow.file', download: true },
};

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Path segments, percent-decoded one by one; a `.`/`..` segment or an encoded `/` or `\` is refused. */
function segmentsOf(pathname: string): string[] {
  const raw = pathname.split('/').slice(1);
  return raw.map((s) => {
    let decoded: string;
    try {
      decoded = decodeURIComponent(s);
    } catch {
      throw new HttpError(400, 'malformed percent-encoding in the path');
    }
    if (decoded === '.' || decoded === '..' || decoded.includes('/') || decoded.includes('\\') || decoded.includes('\0')) {
      throw new HttpError(400, 'path segments may not be . or .. or hold / \\ or NUL');
    }
    return decoded;
  });
}

function securityHeaders(nonce: string): Record<string, string> {
  return {
    'content-security-policy': `default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; script-src 'nonce-${nonce}'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'`,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-store',
  };
}

/** Run views (rows read and ordered once per summary), a few runs at a time. */
class RunViews {
  private readonly views = new Map<string, { key: string; view: Promise<RunView> }>();
  constructor(private readonly limit = 4) {}

  get(store: ObjectStore, run: RunDetails): Promise<RunView> {
    const key = JSON.stringify(run.summary);
    const hit = this.views.get(run.runId);
    if (hit !== undefined && hit.key === key) {
      this.views.delete(run.runId);
      this.views.set(run.runId, hit);
      return hit.view;
    }
    const view = loadView(store, run).catch((err: unknown) => {
      this.views.delete(run.runId);
      throw err;
    });
    this.views.set(run.runId, { key, view });
    while (this.views.size > this.limit) this.views.delete(this.views.keys().next().value!);
    return view;
  }
}

async function loadView(store: ObjectStore, run: RunDetails): Promise<RunView> {
  const layout = runLayout(run.runId);
  const images = readImageRows(await store.get(layout.summary), layout.summary);
  const samples: SampleRow[] = [];
  const shards = run.config.shards.map((s) => layout.shardTable(s.shard));
  const tables = await inParallel(shards, 8, async (key) => readSampleRows(await store.get(key), key));
  for (const rows of tables) for (const r of rows) samples.push(r);
  return runView(run.config, run.summary!, images, samples);
}

export interface Dashboard {
  handle: (req: IncomingMessage, res: ServerResponse) => void;
  close: () => Promise<void>;
}

export function createDashboard(opts: DashboardOptions): Dashboard {
  const { store, temporal } = opts;
  const pageSize = opts.pageSize ?? 24;
  const log = opts.log ?? ((line: string) => process.stderr.write(line + '\n'));
  const views = new RunViews();
  const catalogue: CatalogueOptions = temporal ? { stillRunning: (id, status) => temporal.stillRunning(id, status) } : {};
  const folderRoot = store instanceof FileStore ? realpath(store.root).catch(() => store.root) : null;

  const progressOf = async (run: { runId: string; status: RunState; engine: string | null }, details?: RunDetails): Promise<LiveProgress | null> => {
    if (temporal === null || run.status !== 'running' || run.engine !== 'temporal') return null;
    return temporal.progress(run.runId, details?.statusRecord ?? null);
  };

  const listed = async (): Promise<{ all: ListedRun[] }> => {
    const entries = await listRuns(store, catalogue);
    const all = await Promise.all(entries.map(async (e) => ({ ...e, progress: await progressOf(e) })));
    return { all };
  };

  const runListFilter = (q: URLSearchParams): RunListFilter => {
    const status = q.get('status') || undefined;
    if (status !== undefined && !STATES.includes(status as RunState)) throw new HttpError(400, `status must be one of ${STATES.join(', ')}`);
    return { ...(status ? { status: status as RunState } : {}), ...(q.get('model') ? { model: q.get('model')! } : {}), ...(q.get('schedule') ? { schedule: q.get('schedule')! } : {}) };
  };

  const imageFilter = (q: URLSearchParams): ImageFilter => {
    const status = q.get('status') || undefined;
    if (status !== undefined && status !== 'ok' && status !== 'error') throw new HttpError(400, 'status must be ok or error');
    return { ...(q.get('probe') ? { probe: q.get('probe')! } : {}), ...(status ? { status } : {}) };
  };

  const describe = async (runId: string): Promise<RunDetails> => {
    try {
      return await describeRun(store, runId, catalogue);
    } catch (err) {
      if (err instanceof InputError) throw new HttpError(404, `no run '${runId}' in this store`);
      throw err;
    }
  };

  const fileKey = async (runId: string, rest: string[]): Promise<string> => {
    let key: string;
    try {
      key = checkKey(`${runLayout(runId).base}/${rest.join('/')}`);
    } catch {
      throw new HttpError(404, 'no such file');
    }
    if (folderRoot !== null) {
      // A symlink inside the folder may point anywhere: serve only what really lies in the store.
      const root = await folderRoot;
      const real = await realpath(join((store as FileStore).root, ...key.split('/'))).catch(() => null);
      if (real === null || !real.startsWith(root + sep)) throw new HttpError(404, 'no such file');
    }
    return key;
  };

  const routes = async (segments: string[], q: URLSearchParams, nonce: string): Promise<{ status?: number; type: string; body: string | Uint8Array; headers?: Record<string, string> }> => {
    const html = (body: string) => ({ type: 'text/html; charset=utf-8', body });
    const json = (value: unknown) => ({ type: 'application/json; charset=utf-8', body: JSON.stringify(value) });
    const [first, second, third, ...rest] = segments;
    if (segments.length === 1 && first === '') {
      const filter = runListFilter(q);
      const { all } = await listed();
      return html(renderRunList(filterRuns(all, filter), all, filter, store.location, nonce));
    }
    if (first === 'api' && second === 'runs' && third === undefined) {
      const { all } = await listed();
      return json({ store: store.location, runs: filterRuns(all, runListFilter(q)) });
    }
    if (first === 'api' && second === 'runs' && third !== undefined && rest.length === 0) {
      const run = await describe(third);
      const extras = await readRunExtras(store, run.runId);
      return json({ ...run, progress: await progressOf(run, run), ...extras });
    }
    if (first === 'runs' && second !== undefined && third === undefined) {
      return { status: 301, type: 'text/plain; charset=utf-8', body: 'moved', headers: { location: runHref(second) } };
    }
    if (first === 'runs' && second !== undefined && third === '' && rest.length === 0) {
      const run = await describe(second);
      if (run.summary === null) return html(renderPendingRun(run, await progressOf(run, run)));
      const [view, extras] = await Promise.all([views.get(store, run), readRunExtras(store, run.runId)]);
      const filter = imageFilter(q);
      const pageNo = Number(q.get('page') ?? '1');
      if (!Number.isInteger(pageNo) || pageNo < 1) throw new HttpError(400, 'page must be a positive integer');
      const href = runHref(run.runId);
      const pageHref = (f: ImageFilter, p: number) => {
        const params = new URLSearchParams({ ...(f.probe ? { probe: f.probe } : {}), ...(f.status ? { status: f.status } : {}), ...(p > 1 ? { page: String(p) } : {}) });
        return `${href}${params.size > 0 ? `?${params}` : ''}#fibers`;
      };
      const filesOf = (key: string) => {
        // Store keys of any run (a gate's baseline images too) map onto that run's file route.
        const m = /^runs\/([^/]+)\/(.+)$/.exec(key);
        return m ? `/runs/${encodeURIComponent(m[1]!)}/files/${m[2]!.split('/').map(encodeURIComponent).join('/')}` : '';
      };
      const progress = await progressOf(run, run);
      const statusHtml = `<p>${stateBadge(run.status)} ${progress ? progressText({ ...run, progress }) : ''} · <a href="${href}files/report.html">static report</a> · <a href="/api/runs/${encodeURIComponent(run.runId)}">JSON</a></p>`;
      return html(
        renderRunPage(view, { imageHref: filesOf, filter, page: pageNo, pageSize, gate: extras.gate, cross: extras.cross, links: { pageHref, nav: '<a href="/">runs</a>', statusHtml } }),
      );
    }
    if (first === 'runs' && second !== undefined && third === 'files' && rest.length > 0) {
      const ext = /\.([a-z]+)$/.exec(rest.at(-1)!)?.[1] ?? '';
      const kind = rest.join('/') === 'report.html' ? { type: 'text/html; charset=utf-8', download: false } : FILE_TYPES[ext];
      if (kind === undefined) throw new HttpError(404, 'no such file');
      const key = await fileKey(second, rest);
      const body = await store.get(key).catch((err: unknown) => {
        if (err instanceof ObjectNotFoundError) throw new HttpError(404, 'no such file');
        throw err;
      });
      return { type: kind.type, body, headers: kind.download ? { 'content-disposition': 'attachment' } : {} };
    }
    if (first === 'schedules' && second !== undefined && (third === '' || third === undefined) && rest.length === 0) {
      if (third === undefined) return { status: 301, type: 'text/plain; charset=utf-8', body: 'moved', headers: { location: `/schedules/${encodeURIComponent(second)}/` } };
      const entries = (await listRuns(store, catalogue)).filter((r) => r.schedule?.id === second);
      if (entries.length === 0) throw new HttpError(404, `no runs of schedule '${second}' in this store`);
      const runs = await Promise.all(entries.map((e) => describe(e.runId)));
      return html(renderSchedule(second, runs));
    }
    throw new HttpError(404, 'not found');
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const nonce = randomBytes(16).toString('base64');
    const send = (status: number, type: string, body: string | Uint8Array, headers: Record<string, string> = {}) => {
      const bytes = typeof body === 'string' ? Buffer.from(body) : body;
      res.writeHead(status, { ...securityHeaders(nonce), 'content-type': type, 'content-length': String(bytes.byteLength), ...headers });
      res.end(req.method === 'HEAD' ? undefined : bytes);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(405, 'text/plain; charset=utf-8', 'only GET and HEAD: the dashboard is read-only\n', { allow: 'GET, HEAD' });
      return;
    }
    const raw = req.url ?? '/';
    const at = raw.indexOf('?');
    const pathname = at < 0 ? raw : raw.slice(0, at);
    const q = new URLSearchParams(at < 0 ? '' : raw.slice(at + 1));
    Promise.resolve()
      .then(() => {
        if (!pathname.startsWith('/')) throw new HttpError(400, 'expected an absolute path');
        return routes(segmentsOf(pathname), q, nonce);
      })
      .then(
        (r) => send(r.status ?? 200, r.type, r.body, r.headers),
        (err: unknown) => {
          if (err instanceof HttpError) {
            send(err.status, 'text/plain; charset=utf-8', err.message + '\n');
            return;
          }
          log(`serve: ${req.method} ${pathname}: ${err instanceof Error ? err.message : String(err)}`);
          send(500, 'text/plain; charset=utf-8', 'the store could not be read; see the server log\n');
        },
      )
      .catch(() => res.destroy());
  };

  return { handle, close: async () => temporal?.close() };
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export const isLoopback = (host: string) => LOOPBACK.has(host);

export interface StartedDashboard {
  server: Server;
  url: string;
  close: () => Promise<void>;
}

/** Listens on `host:port` (port 0: any free port) and serves the dashboard. */
export async function startDashboard(opts: DashboardOptions & { host: string; port: number }): Promise<StartedDashboard> {
  const dashboard = createDashboard(opts);
  const server = createServer(dashboard.handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    server,
    url: `http://${host}:${address.port}/`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await dashboard.close();
    },
  };
}
