import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, symlink, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { connect } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { runServe } from '../../../cli/actions/serve.ts';
import { main } from '../../../cli/main.ts';
import { runLayout } from '../../../store/layout.ts';
import { FileStore, openStore } from '../../../store/objects.ts';
import { startDashboard } from '../../../serve/server.ts';
import type { StartedDashboard } from '../../../serve/server.ts';
import { writeSyntheticRun } from '../../fixtures/runs.ts';

const HOSTILE_IMAGE = '<img src=x onerror=alert(1)>.png';
const HOSTILE_BUNDLE = '<script>alert("bundle")</script>';
const HOSTILE_ERROR = 'decode failed: <script>alert("error")</script>';
const HOSTILE_RUN = 'run"><b>bold';

let root: string;
let store: FileStore;
let dashboard: StartedDashboard;
const logged: string[] = [];

/** A raw request: the path goes out exactly as written (fetch and URL would resolve `..` first). */
function raw(path: string, method = 'GET'): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const { hostname, port } = new URL(dashboard.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, method }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'fiberscope-serve-'));
  store = new FileStore(join(root, 'store'));
  await writeSyntheticRun(store, {
    runId: 'r1',
    images: 60,
    samplesPerImage: 4,
    shardSize: 25,
    pngs: true,
    failure: (i, k) => (i === 3 && k === 1 ? 'NaN in the sample' : null),
    createdAt: '2026-11-01T10:00:00.000Z',
  });
  await writeSyntheticRun(store, {
    runId: HOSTILE_RUN,
    images: 3,
    samplesPerImage: 2,
    pngs: true,
    imageId: (i) => (i === 0 ? HOSTILE_IMAGE : `plain-${i}`),
    extractorId: HOSTILE_BUNDLE,
    failure: (i, k) => (i === 1 && k === 0 ? HOSTILE_ERROR : null),
    createdAt: '2026-11-02T10:00:00.000Z',
  });
  // Things outside the store that symlinks inside it point at.
  const outside = join(root, 'outside');
  await mkdir(outside);
  await writeFile(join(outside, 'secret.png'), 'SECRET-OUTSIDE-THE-STORE');
  const images = join(store.root, runLayout('r1').base, 'images');
  await symlink(join(outside, 'secret.png'), join(images, 'link.png'));
  await symlink(outside, join(images, 'out'));
  dashboard = await startDashboard({ store, temporal: null, host: '127.0.0.1', port: 0, pageSize: 24, log: (l) => logged.push(l) });
});

after(async () => {
  await dashboard?.close();
});

test('the run list shows every run newest first with its counts', async () => {
  const res = await raw('/');
  assert.equal(res.status, 200);
  const order = [...res.body.matchAll(/<tr data-run="([^"]*)"/g)].map((m) => m[1]);
  assert.deepEqual(order, ['run&quot;&gt;&lt;b&gt;bold', 'r1']);
  assert.match(res.body, /239 ok \/ 1 error samples/);
  const api = JSON.parse((await raw('/api/runs?status=done')).body) as { runs: { runId: string; samples: { ok: number; error: number } }[] };
  assert.deepEqual(api.runs.map((r) => [r.runId, r.samples]), [[HOSTILE_RUN, { ok: 5, error: 1 }], ['r1', { ok: 239, error: 1 }]]);
  assert.deepEqual(JSON.parse((await raw('/api/runs?status=running')).body).runs, []);
  assert.equal((await raw('/?status=bogus')).status, 400);
});

test('an image id, a bundle name, a run id and an error message holding HTML are shown escaped', async () => {
  const pages = [await raw('/'), await raw(`/runs/${encodeURIComponent(HOSTILE_RUN)}/`), await raw(`/runs/${encodeURIComponent(HOSTILE_RUN)}/?status=error`)];
  const report = new TextDecoder().decode(await store.get(runLayout(HOSTILE_RUN).report));
  for (const body of [...pages.map((p) => p.body), report]) {
    assert.ok(!body.includes('<script>alert'), 'no injected script element');
    assert.ok(!body.includes('<img src=x'), 'no injected image element');
    assert.ok(!body.includes('"><b>bold'), 'no attribute break-out');
  }
  assert.equal(pages[1]!.status, 200);
  assert.ok(pages[1]!.body.includes('&lt;img src=x onerror=alert(1)&gt;.png'), 'the image id is shown, escaped');
  assert.ok(pages[1]!.body.includes('&lt;script&gt;alert(&quot;bundle&quot;)&lt;/script&gt;'), 'the bundle name is shown, escaped');
  assert.ok(pages[1]!.body.includes('decode failed: &lt;script&gt;alert(&quot;error&quot;)&lt;/script&gt;'), 'the error message is shown, escaped');
  assert.ok(pages[0]!.body.includes('&lt;script&gt;alert(&quot;bundle&quot;)&lt;/script&gt;'));
  assert.ok(report.includes('&lt;img src=x onerror=alert(1)&gt;.png'));
  // Scripts run only with the page's nonce, whatever a page might carry.
  const csp = String(pages[0]!.headers['content-security-policy']);
  assert.match(csp, /script-src 'nonce-[^']+'/);
  assert.equal(pages[0]!.headers['x-content-type-options'], 'nosniff');
});

test('traversal out of the store is refused in every spelling', async () => {
  const attempts = [
    '/runs/../../etc/passwd',
    '/runs/r1/files/../../../../etc/passwd',
    '/runs/r1/files/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
    '/runs/r1/files/%2E%2E%2F%2E%2E%2F%2E%2E%2Fetc%2Fpasswd',
    '/runs/r1/files/..%2f..%2f..%2fetc%2fpasswd',
    '/runs/r1/files/%252e%252e/%252e%252e/etc/passwd',
    '/runs/r1/files/..%5c..%5cetc%5cpasswd',
    '/runs/r1/files//etc/passwd',
    '/runs/%2Fetc%2Fpasswd/files/x.png',
    '/runs/r1/files/%00.png',
    '/runs/r1/files/images/link.png',
    '/runs/r1/files/images/out/secret.png',
    '/runs/r1/files/manifest.json/../../../etc/passwd',
    '//etc/passwd',
    'http://example.com/etc/passwd',
  ];
  for (const path of attempts) {
    const res = await raw(path);
    assert.ok(res.status === 400 || res.status === 404, `${path}: ${res.status}`);
    assert.ok(!res.body.includes('root:') && !res.body.includes('SECRET-OUTSIDE'), `${path} leaked a file`);
  }
  // What lies inside the store is served.
  const ok = await raw('/runs/r1/files/images/img-00000/query.png');
  assert.equal(ok.status, 200);
  assert.equal(ok.headers['content-type'], 'image/png');
  assert.equal((await raw('/runs/r1/files/manifest.json')).headers['content-disposition'], 'attachment');
});

test('only GET and HEAD: nothing in the store changes', async () => {
  const before = await store.list('');
  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
    const res = await raw('/runs/r1/files/manifest.json', method);
    assert.equal(res.status, 405, method);
    assert.equal(res.headers.allow, 'GET, HEAD');
  }
  const head = await raw('/runs/r1/', 'HEAD');
  assert.equal(head.status, 200);
  assert.equal(head.body, '');
  assert.deepEqual(await store.list(''), before);
});

test('the run page is paged and filterable: a page holds one page of images whatever the run size', async () => {
  const images = (body: string) => [...body.matchAll(/<section class="image" data-image="([^"]+)"/g)].map((m) => m[1]!);
  const first = await raw('/runs/r1/');
  const third = await raw('/runs/r1/?page=3');
  assert.equal(images(first.body).length, 24);
  assert.equal(images(third.body).length, 12);
  assert.match(first.body, /page 1 of 3/);
  assert.equal(new Set([...images(first.body), ...images((await raw('/runs/r1/?page=2')).body), ...images(third.body)]).size, 60);
  const errors = await raw('/runs/r1/?status=error');
  assert.deepEqual(images(errors.body), ['img-00003']);
  assert.match(errors.body, /NaN in the sample/);
  const hflip = await raw('/runs/r1/?probe=hflip');
  const view = JSON.parse((await raw('/api/runs/r1')).body) as { summary: { images: { total: number } } };
  assert.equal(view.summary.images.total, 60);
  assert.ok(images(hflip.body).length > 0 && images(hflip.body).length < 24);
  assert.equal((await raw('/runs/r1/?page=0')).status, 400);
  assert.equal((await raw('/runs/nope/')).status, 404);
  // The charts come with every page.
  assert.match(first.body, /<svg role="img" aria-label="fiber metric \(squared_l2\) per sample"/);
});

test('the static report renders the same run page, with its images linked relative to the run folder', async () => {
  const report = new TextDecoder().decode(await store.get(runLayout('r1').report));
  const page = (await raw('/runs/r1/')).body;
  for (const part of ['<h2>Invariance profile</h2>', 'aria-label="fiber metric / nearest-real-neighbour baseline, per image"', '<h2>Errors</h2>', '<h2>Configuration</h2>']) {
    assert.ok(report.includes(part) && page.includes(part), part);
  }
  assert.match(report, /src="images\/img-000\d\d\/query.png"/, 'relative image links');
  assert.ok(page.includes('src="/runs/r1/files/images/'), 'the dashboard links images through its file route');
  assert.ok(!report.includes('<script'), 'the report needs no script');
});

test('the dashboard listens on loopback only unless told otherwise, and warns when told', async () => {
  const { address } = dashboard.server.address() as { address: string };
  assert.equal(address, '127.0.0.1');
  const port = Number(new URL(dashboard.url).port);
  const external = Object.values(networkInterfaces())
    .flat()
    .find((i) => i !== undefined && i.family === 'IPv4' && !i.internal);
  if (external !== undefined) {
    const refused = await new Promise<boolean>((resolve) => {
      const s = connect({ host: external.address, port }, () => (s.destroy(), resolve(false)));
      s.on('error', () => resolve(true));
    });
    assert.ok(refused, `nothing answers on ${external.address}:${port}`);
  }
  const warnings: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string) => (warnings.push(String(chunk)), true)) as typeof process.stderr.write;
  try {
    let stop!: () => void;
    const until = new Promise<void>((r) => (stop = r));
    const code = await runServe({ store: store.root, host: '0.0.0.0', port: 0, pageSize: 24, temporalAddress: '127.0.0.1:1', until, onListening: () => stop() });
    assert.equal(code, 0);
    let stopLoopback!: () => void;
    const untilLoopback = new Promise<void>((r) => (stopLoopback = r));
    await runServe({ store: store.root, host: '127.0.0.1', port: 0, pageSize: 24, until: untilLoopback, onListening: () => stopLoopback() });
  } finally {
    process.stderr.write = write;
  }
  assert.equal(warnings.filter((w) => w.startsWith('warning:')).length, 1, warnings.join(''));
  assert.match(warnings.join(''), /warning: listening on 0\.0\.0\.0, not loopback/);
});

test('a store that cannot be read gives a plain 500; no credential reaches a page, an answer or the log', async () => {
  const secret = 'sekrit-' + Math.random().toString(36).slice(2);
  const s3 = openStore('s3://no-bucket/prefix', { FIBERSCOPE_S3_ENDPOINT: 'http://127.0.0.1:9', FIBERSCOPE_S3_ACCESS_KEY: 'AKIDEXAMPLE', FIBERSCOPE_S3_SECRET_KEY: secret });
  const lines: string[] = [];
  const d = await startDashboard({ store: s3, temporal: null, host: '127.0.0.1', port: 0, log: (l) => lines.push(l) });
  try {
    const res = await fetch(d.url);
    const body = await res.text();
    assert.equal(res.status, 500);
    assert.ok(!body.includes(secret) && !lines.join('\n').includes(secret));
    assert.ok(lines.length > 0, 'the failure is logged');
  } finally {
    await d.close();
  }
  const config = JSON.parse(await readFile(join(store.root, runLayout('r1').manifest), 'utf8')) as object;
  assert.ok(!JSON.stringify(config).includes(secret));
});

test('bad serve flags and a missing store folder are refused with exit 2', async () => {
  const write = process.stderr.write.bind(process.stderr);
  const errors: string[] = [];
  process.stderr.write = ((chunk: string) => (errors.push(String(chunk)), true)) as typeof process.stderr.write;
  try {
    assert.equal(await main(['serve', '--store', store.root, '--port', '70000']), 2);
    assert.equal(await main(['serve', '--store', join(root, 'no-such-store'), '--port', '0']), 2);
    assert.equal(await main(['serve', '--store', store.root, '--page-size', '0']), 2);
  } finally {
    process.stderr.write = write;
  }
  const text = errors.join('');
  assert.match(text, /--port.*expected a port number 0-65535, got '70000'/);
  assert.match(text, /--store.*no folder .*no-such-store/);
  assert.match(text, /--page-size.*expected 1-500 images per page/);
});

test('the static report of a large run lists the first images with a note; the run page pages through all', async () => {
  await writeSyntheticRun(store, { runId: 'big', images: 230, samplesPerImage: 1, shardSize: 115, createdAt: '2026-10-01T00:00:00.000Z' });
  const report = new TextDecoder().decode(await store.get(runLayout('big').report));
  assert.equal([...report.matchAll(/<section class="image" data-image=/g)].length, 200);
  assert.match(report, /the first 200 of 230; every image is in summary\.arrow/);
  const last = await raw('/runs/big/?page=10');
  assert.match(last.body, /page 10 of 10/);
  assert.equal([...last.body.matchAll(/<section class="image" data-image=/g)].length, 230 - 9 * 24);
});
