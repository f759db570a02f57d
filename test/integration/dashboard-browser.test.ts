import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Client } from '@temporalio/client';
import type { WorkflowHandle } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { NativeConnection } from '@temporalio/worker';
import type { BrowserContext, Page } from 'playwright-core';
import { runRequestOf } from '../../activities/control.ts';
import { runLocalAudit } from '../../activities/local-engine.ts';
import { cachedPairLoader } from '../../activities/pairs.ts';
import type { NewRun } from '../../activities/run.ts';
import { buildDemo } from '../../engine/demo/build.ts';
import type { DemoPaths } from '../../engine/demo/build.ts';
import { resolveSamplerOptions } from '../../engine/guidance/options.ts';
import type { GateVerdict } from '../../gate/verdict.ts';
import { runLayout } from '../../store/layout.ts';
import { FileStore } from '../../store/objects.ts';
import { TemporalProgress } from '../../serve/progress.ts';
import { startDashboard } from '../../serve/server.ts';
import type { StartedDashboard } from '../../serve/server.ts';
import { auditWorkflowId } from '../../workflows/audit.ts';
import { auditDatasetWorkflow } from '../../workflows/index.ts';
import { Gate } from './interposed.ts';
import { connectTemporal, startWorkers, temporalSettings, uniqueName } from './services.ts';
import type { InProcessWorkers } from './services.ts';

/**
 * The dashboard in a real headless Chromium (Debian's package, driven by playwright-core; never a
 * browser download): finished local audits, a schedule's runs and one audit running on the
 * Temporal dev server, held between shards so the page can be watched as it moves.
 */

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOTS = join(process.cwd(), 'test-output', 'screenshots');
const SCHEDULE = 'nightly-digits';
const skip = existsSync(CHROMIUM) ? false : `no ${CHROMIUM}: install Debian's chromium package (apt-get install -y chromium) to run the browser tests`;

let demo: DemoPaths;
let store: FileStore;
let dashboard: StartedDashboard;
let browser: BrowserContext;
let page: Page;
let connection: NativeConnection | undefined;
let workers: InProcessWorkers | undefined;
const finished: string[] = [];
let liveRunId: string;
let live: WorkflowHandle | undefined;
let holdFirst: Gate;
let holdLast: Gate;

const shot = (name: string) => page.screenshot({ path: join(SCREENSHOTS, name), fullPage: true });

function spec(extractor: number, extra: Partial<NewRun>): NewRun {
  return {
    dataset: demo.dataset,
    prior: demo.prior,
    extractor: demo.extractors[extractor]!.path,
    samplesPerImage: 2,
    sampler: resolveSamplerOptions({ preset: 'imagenet-dinov2', steps: 6, innerSteps: 1, lr: 0.05, update: { kind: 'ddim', variance: 'small', eta: 0 }, seed: 7 }),
    preset: 'imagenet-dinov2',
    probes: ['hflip', 'vflip', 'invert'],
    batchImages: 2,
    shardSize: 2,
    resizeQueries: false,
    provider: 'cpu',
    limit: 4,
    ...extra,
  };
}

before(async () => {
  if (skip) return;
  await mkdir(SCREENSHOTS, { recursive: true });
  const root = await mkdtemp(join(tmpdir(), 'fiberscope-dashboard-'));
  demo = await buildDemo(join(root, 'demo'));
  store = new FileStore(join(root, 'store'));
  const loadPair = cachedPairLoader();
  // A schedule of three nightly runs: the model changes before the third, and the trend shows it.
  for (const [night, extractor] of [[1, 0], [2, 0], [3, 1]] as const) {
    const actionTime = `2026-11-0${night}T02:00:00.000Z`;
    const r = await runLocalAudit(spec(extractor, { runId: `nightly-0${night}`, schedule: { id: SCHEDULE, actionTime } }), { store, loadPair });
    finished.push(r.runId);
  }
  // A gate verdict recorded in the last night's run (contract H), as `fiberscope check` writes it.
  const last = runLayout('nightly-03');
  const baseline = runLayout('nightly-02');
  const gate: GateVerdict = {
    version: 1,
    verdict: 'regression',
    baseline: { runId: 'nightly-02', extractor: 'digits-layout', location: store.location + '/' + baseline.base, store: store.location, seed: '1' },
    candidate: { runId: 'nightly-03', extractor: 'digits-flip-invariant', location: store.location + '/' + last.base, store: store.location, seed: '1' },
    createdAt: '2026-11-03T03:00:00.000Z',
    images: 4,
    alpha: 0.05,
    minEffect: 0.1,
    minRatioChange: 0.25,
    findings: [{ kind: 'probe', name: 'hflip', baseline: 0.1, candidate: 0.6, effect: 0.5, pValue: 0.01, adjustedP: 0.02, regression: true, direction: 'started', pairs: 4, message: 'hflip started firing' }],
    worstImages: [],
  };
  await store.put(last.gate, JSON.stringify(gate));

  Runtime.install({ logger: new DefaultLogger('WARN') });
  connection = await connectTemporal();
  const { address, namespace } = temporalSettings();
  const controlQueue = uniqueName('test-dash-control');
  const samplingQueue = uniqueName('test-dash-sampling');
  liveRunId = uniqueName('live');
  const layout = runLayout(liveRunId);
  // One image per shard, one shard at a time: held before the second shard's table, then before the fourth's.
  holdLast = new Gate(store, layout.shardTable('shard-00003'));
  holdFirst = new Gate(holdLast, layout.shardTable('shard-00001'));
  workers = await startWorkers({ connection, namespace, store, controlQueue, samplingQueue, samplingStore: holdFirst, loadPair });
  const client = new Client({ connection, namespace });
  live = await client.workflow.start(auditDatasetWorkflow, {
    taskQueue: controlQueue,
    workflowId: auditWorkflowId(liveRunId),
    args: [{ store: store.location, run: runRequestOf(spec(1, { runId: liveRunId, shardSize: 1, batchImages: 1 })), options: { window: 1, samplingQueue } }],
  });
  dashboard = await startDashboard({ store, temporal: new TemporalProgress(address, namespace), host: '127.0.0.1', port: 0 });
  const { chromium } = await import('playwright-core');
  browser = await chromium.launchPersistentContext(await mkdtemp(join(tmpdir(), 'fiberscope-chromium-')), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
  });
  page = await browser.newPage();
  await holdFirst.reached;
});

after(async () => {
  holdFirst?.release();
  holdLast?.release();
  await live?.result().catch(() => undefined);
  await browser?.close();
  await dashboard?.close();
  await workers?.stop();
  await connection?.close();
});

test('the run list shows the runs newest first and the running audit\'s progress moving without a reload', { skip }, async () => {
  await page.goto(dashboard.url);
  const rows = page.locator('table.runs tr[data-run]');
  assert.equal(await rows.count(), 4);
  assert.deepEqual(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-run'))), [liveRunId, 'nightly-03', 'nightly-02', 'nightly-01']);
  const liveRow = page.locator(`tr[data-run="${liveRunId}"]`);
  assert.equal(await liveRow.locator('.state').textContent(), 'running');
  assert.match((await liveRow.locator('.progress').textContent()) ?? '', /shards 1\/4, images [12]\/4, [\d.]+ images\/s, 0 error rows, ETA/);
  assert.match((await page.locator('tr[data-run="nightly-01"] .progress').textContent()) ?? '', /^8 ok \/ 0 error samples$/);
  await page.evaluate(() => ((window as unknown as { loadedOnce: boolean }).loadedOnce = true));
  await shot('01-run-list-running.png');
  // The running run's own page, in a second tab: where it stands until it has a summary.
  const runPage = await browser.newPage();
  await runPage.goto(`${dashboard.url}runs/${liveRunId}/`);
  assert.equal(await runPage.locator('.state').textContent(), 'running');
  assert.match((await runPage.locator('body').textContent()) ?? '', /images [12]\/4[\s\S]*shards 1\/4 written/);
  await runPage.close();

  holdFirst.release();
  await page.waitForFunction((id) => /images [34]\/4/.test(document.querySelector(`tr[data-run="${id}"] .progress`)?.textContent ?? ''), liveRunId, { timeout: 60_000 });
  assert.equal(await page.evaluate(() => (window as unknown as { loadedOnce?: boolean }).loadedOnce), true, 'the page was not reloaded');
  await shot('02-run-list-progress-moved.png');
  // The README's picture: the page down to the end of the table, margins kept.
  const height = await page.evaluate(() => Math.ceil(document.querySelector('table.runs')!.getBoundingClientRect().bottom) + 24);
  await page.screenshot({ path: join(process.cwd(), 'test-output', 'dashboard.png'), clip: { x: 0, y: 0, width: 1280, height } });

  holdLast.release();
  await live!.result();
  await page.waitForFunction((id) => document.querySelector(`tr[data-run="${id}"] .state`)?.textContent === 'done', liveRunId, { timeout: 30_000 });
  assert.match((await liveRow.locator('.progress').textContent()) ?? '', /^8 ok \/ 0 error samples$/);
  await page.selectOption('select[name="schedule"]', SCHEDULE);
  await Promise.all([page.waitForURL(/schedule=nightly-digits/), page.click('form.filters button')]);
  assert.equal(await page.locator('table.runs tr[data-run]').count(), 3);
});

test('a run page shows its counts, charts and fiber grids, filterable by probe', { skip }, async () => {
  await page.goto(`${dashboard.url}runs/nightly-03/`);
  assert.equal(await page.locator('h1 code').textContent(), 'nightly-03');
  assert.deepEqual(await page.locator('table.counts td').allTextContents(), ['4', '4', '0', '8', '8', '0']);
  const sections = page.locator('section.image[data-image]');
  assert.equal(await sections.count(), 4);
  for (const s of await sections.all()) {
    assert.equal(await s.locator('figure.query img').count(), 1);
    assert.equal(await s.locator('figure.sample img').count(), 2);
  }
  const broken = await page.locator('section.image img').evaluateAll((imgs) => (imgs as HTMLImageElement[]).filter((i) => !i.complete || i.naturalWidth === 0).length);
  assert.equal(broken, 0, 'every query and sample image loads from the store');
  assert.equal(await page.locator('figure.chart svg').count(), 2);
  assert.ok((await page.locator('figure.chart svg .bars rect').count()) > 2, 'histogram bars drawn');
  assert.match((await page.locator('.verdict-regression').textContent()) ?? '', /regression against baseline nightly-02/);
  const probe = (await page.locator('section.image h3 small').first().textContent())!.match(/top probe (\S+)/)![1]!;
  await shot('03-run-page.png');
  await page.selectOption('form.filters select[name="probe"]', probe);
  await Promise.all([page.waitForURL(new RegExp(`probe=${probe}`)), page.click('form.filters button')]);
  const tops = await page.locator('section.image h3 small').allTextContents();
  assert.ok(tops.length >= 1 && tops.every((t) => t.includes(`top probe ${probe} `)), tops.join(' | '));
});

test('a schedule\'s trend shows its runs over time as lines of probe rates and the median fiber ratio', { skip }, async () => {
  await page.goto(`${dashboard.url}schedules/${SCHEDULE}/`);
  assert.equal(await page.locator('table.schedule-runs tr').count(), 4, 'a header and three runs');
  assert.deepEqual(await page.locator('table.schedule-runs tr td:first-child').allTextContents(), ['nightly-03', 'nightly-02', 'nightly-01']);
  const series = page.locator('g.series');
  assert.ok((await series.count()) >= 2, 'at least one probe line and the ratio line');
  for (const s of await series.all()) assert.equal(await s.locator('circle').count(), 3, 'one point per run');
  assert.equal(await page.locator('g.series[data-series="median fiber metric / nearest-real-neighbour baseline"]').count(), 1);
  await shot('04-schedule-trend.png');
});

test('the static report opens from disk with its images and charts, like the run page', { skip }, async () => {
  const report = join(store.root, runLayout('nightly-03').report);
  await page.goto(pathToFileURL(report).href);
  assert.equal(await page.locator('h1 code').textContent(), 'nightly-03');
  assert.equal(await page.locator('section.image[data-image]').count(), 4);
  const images = page.locator('section.image img');
  assert.equal(await images.count(), 12);
  assert.equal(await images.evaluateAll((imgs) => (imgs as HTMLImageElement[]).filter((i) => i.naturalWidth === 0).length), 0, 'relative image links resolve from disk');
  assert.equal(await page.locator('figure.chart svg').count(), 2);
  assert.equal(await page.locator('form.filters').count(), 0, 'no dashboard controls in the static file');
  await shot('05-static-report.png');
});
