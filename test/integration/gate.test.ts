import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { before, test } from 'node:test';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { auditLocally } from '../../cli/actions/audit.ts';
import { runCheck } from '../../cli/actions/check.ts';
import type { CheckArgs } from '../../cli/actions/check.ts';
import { demoAuditArgs } from '../../cli/actions/demo.ts';
import { main } from '../../cli/main.ts';
import { buildDemo } from '../../engine/demo/build.ts';
import type { DemoPaths } from '../../engine/demo/build.ts';
import { InputError } from '../../engine/errors.ts';
import { GATE_DEFAULTS } from '../../gate/verdict.ts';
import type { GateVerdict } from '../../gate/verdict.ts';
import type { RunConfig } from '../../runs/manifest.ts';
import { imageRowsToIpc, readImageRows } from '../../store/image-tables.ts';
import { runLayout } from '../../store/layout.ts';
import { FileStore } from '../../store/objects.ts';

/**
 * The gate on the planted problem of the demo (a prior over MNIST digits and their mirrors, a
 * flip-sensitive and a flip-invariant extractor): three small audits shared by every test.
 * 24 images: the gate needs about 20 to detect the planted change at the default α (README).
 */
const IMAGES = 24;

let paths: DemoPaths;
let store: FileStore;
const runs = { sensitive0: 's0', sensitive1: 's1', invariant0: 'i0' };

before(async () => {
  const root = await mkdtemp(join(tmpdir(), 'gate-'));
  paths = await buildDemo(join(root, 'bundles'));
  store = new FileStore(join(root, 'store'));
  const audit = (extractor: string, seed: string, runId: string) =>
    auditLocally({ ...demoAuditArgs(paths, extractor, store.root, true), seed, runId, limit: IMAGES }, store);
  const [sensitive, invariant] = paths.extractors;
  await audit(sensitive!.path, '0', runs.sensitive0);
  await audit(sensitive!.path, '1', runs.sensitive1);
  await audit(invariant!.path, '0', runs.invariant0);
});

function capture() {
  let text = '';
  return { out: new Writable({ write: (c, _e, done) => ((text += String(c)), done()) }), text: () => text };
}

const args = (baseline: string, candidate: string, extra: Partial<CheckArgs> = {}): CheckArgs => ({
  baseline,
  candidate,
  store: store.root,
  format: 'text',
  alpha: GATE_DEFAULTS.alpha,
  minEffect: GATE_DEFAULTS.minEffect,
  minRatioChange: GATE_DEFAULTS.minRatioChange,
  worst: 3,
  engine: 'local',
  concurrency: 1,
  ...extra,
});

async function gateJson(runId: string): Promise<GateVerdict> {
  return JSON.parse(new TextDecoder().decode(await store.get(runLayout(runId).gate))) as GateVerdict;
}

test('the same flip-sensitive model audited with another seed passes, and the verdict is recorded in the candidate run', async () => {
  const c = capture();
  assert.equal(await runCheck(args(runs.sensitive0, runs.sensitive1), c.out), 0, c.text());
  assert.match(c.text(), /^PASS: digits-layout \(s1\) keeps the invariances of digits-layout \(s0\) on 24 shared images/);
  const v = await gateJson(runs.sensitive1);
  assert.equal(v.verdict, 'pass');
  assert.equal(v.images, IMAGES);
  assert.equal(v.baseline.seed, '0');
  assert.equal(v.candidate.seed, '1');
  assert.ok(v.findings.every((f) => !f.regression && f.direction === 'same'));
  assert.deepEqual(v.findings.map((f) => f.name), ['hflip', 'vflip', 'rot90', 'rot180', 'rot270', 'fiber_to_neighbour_ratio', 'error_share']);
});

test('a candidate that gained the flip invariance fails, naming hflip with both rates and its p-value, worst images linked', async () => {
  const c = capture();
  assert.equal(await runCheck(args(runs.sensitive0, runs.invariant0), c.out), 1, c.text());
  const v = await gateJson(runs.invariant0);
  assert.equal(v.verdict, 'regression');
  const failed = v.findings.filter((f) => f.regression);
  assert.deepEqual(failed.map((f) => [f.name, f.direction]), [['hflip', 'started']]);
  const hflip = failed[0]!;
  assert.ok(hflip.candidate - hflip.baseline >= GATE_DEFAULTS.minEffect, `hflip ${hflip.baseline} -> ${hflip.candidate}`);
  assert.ok(hflip.adjustedP < GATE_DEFAULTS.alpha && hflip.pValue <= hflip.adjustedP);
  assert.match(c.text(), /REGRESSION: hflip changed/);
  assert.match(c.text(), /FAIL hflip started firing .*nearest for \d+% of samples in the baseline, \d+% in the candidate \(p=/);
  assert.equal(v.worstImages.length, 3);
  const worst = v.worstImages[0]!;
  assert.ok(worst.change > 0 && worst.change >= v.worstImages[2]!.change);
  // Image entries are store keys that exist.
  assert.ok(await store.exists(worst.candidateImages[0]!), worst.candidateImages[0]);
  assert.ok(await store.exists(worst.baselineImages[0]!), worst.baselineImages[0]);
  assert.match(c.text(), new RegExp(`file://.*/runs/i0/images/${worst.imageId}/\\d\\.png`));
});

test('a candidate that lost the flip invariance is reported as hflip stopped firing', async () => {
  const c = capture();
  assert.equal(await runCheck(args(runs.invariant0, runs.sensitive1), c.out), 1, c.text());
  const v = await gateJson(runs.sensitive1);
  const hflip = v.findings.find((f) => f.name === 'hflip')!;
  assert.equal(hflip.regression, true);
  assert.equal(hflip.direction, 'stopped');
  assert.match(c.text(), /hflip stopped firing \(the candidate lost this invariance\)/);
});

test('JUnit output is well-formed XML: one test case per probe and metric, a failure for the regression', async () => {
  const c = capture();
  await runCheck(args(runs.sensitive0, runs.invariant0, { format: 'junit' }), c.out);
  assert.equal(XMLValidator.validate(c.text()), true);
  const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(c.text()) as {
    testsuites: { tests: string; failures: string; testsuite: { testcase: { name: string; classname: string; failure?: { type: string } }[] } };
  };
  assert.equal(doc.testsuites.tests, '7');
  assert.equal(doc.testsuites.failures, '1');
  const cases = doc.testsuites.testsuite.testcase;
  assert.deepEqual(cases.map((t) => t.name), ['hflip', 'vflip', 'rot90', 'rot180', 'rot270', 'fiber_to_neighbour_ratio', 'error_share']);
  assert.deepEqual(cases.filter((t) => t.failure !== undefined).map((t) => [t.name, t.failure!.type]), [['hflip', 'invariance-started']]);
  assert.equal(cases[5]!.classname, 'fiberscope.check.metric');
});

test('markdown output is a PR comment: a heading, a table row per test, the worst images with sample links', async () => {
  const c = capture();
  await runCheck(args(runs.sensitive0, runs.invariant0, { format: 'markdown' }), c.out);
  const lines = c.text().split('\n');
  assert.equal(lines[0], '### fiberscope check: ❌ regression');
  const header = lines.findIndex((l) => l.startsWith('| | test |'));
  assert.ok(header > 0);
  assert.match(lines[header + 1]!, /^\| --- \| --- \| ---: /);
  const rows = lines.slice(header + 2, header + 9);
  assert.ok(rows.every((r) => r.startsWith('| ') && r.split(' | ').length === 8), rows.join('\n'));
  assert.match(rows[0]!, /^\| ❌ \| probe `hflip` \| \d+% \| \d+% \| \+\d+ pts \| .* \| started \|$/);
  assert.ok(rows.slice(1).every((r) => r.startsWith('| ✅ |')));
  assert.match(c.text(), /<details><summary>Images that changed most<\/summary>/);
  assert.match(c.text(), /\[0\]\(file:\/\/.*\/runs\/i0\/images\/.*\/0\.png\)/);
});

/** A copy of run s1 under another id, its manifest (and per-image rows) edited. */
async function variant(runId: string, edit: (c: RunConfig) => void, renameImages = false) {
  await cp(join(store.root, 'runs', runs.sensitive1), join(store.root, 'runs', runId), { recursive: true });
  const layout = runLayout(runId);
  const config = JSON.parse(await readFile(join(store.root, layout.manifest), 'utf8')) as RunConfig;
  config.runId = runId;
  edit(config);
  await store.put(layout.manifest, JSON.stringify(config));
  if (renameImages) {
    const rows = readImageRows(await store.get(layout.summary)).map((r) => ({ ...r, image_id: `other-${r.image_id}` }));
    await store.put(layout.summary, imageRowsToIpc(rows));
  }
}

test('runs that cannot be compared are refused with exit 2, saying what differs', async () => {
  await variant('steps', (c) => (c.sampler.steps = 50));
  await variant('probes', (c) => (c.probes = ['hflip', 'vflip', 'grayscale']));
  await variant('elsewhere', () => undefined, true);
  const refused = (candidate: string, pattern: RegExp) =>
    assert.rejects(runCheck(args(runs.sensitive0, candidate), capture().out), (e: unknown) => e instanceof InputError && pattern.test(e.message));
  await refused('steps', /^candidate: run 'steps' was sampled with other settings than baseline 's0' \(baseline vs candidate: steps 100 vs 50\)/);
  await refused('probes', /other probes than baseline 's0' \(rot90 only in the baseline, rot180 only in the baseline, rot270 only in the baseline, grayscale only in the candidate\)/);
  await refused('elsewhere', /run 'elsewhere' shares no images with baseline 's0'/);
  await assert.rejects(runCheck(args(runs.sensitive0, 'nope'), capture().out), /candidate: run 'nope' in .* has no manifest/);
  assert.equal(await main(['check', '--baseline', runs.sensitive0, '--candidate', 'steps', '--store', store.root]), 2);
  assert.equal(await main(['check', '--baseline', runs.sensitive0, '--store', store.root]), 2, 'neither --candidate nor --extractor');
});

test('one-shot: check --extractor audits the candidate with the baseline settings, writes JUnit and fails on hflip', async () => {
  const out = join(store.root, 'check.xml');
  const baselineFolder = join(store.root, 'runs', runs.sensitive0);
  const code = await main(['check', '--baseline', baselineFolder, '--extractor', paths.extractors[1]!.path, '--run-id', 'oneshot', '--format', 'junit', '--out', out]);
  assert.equal(code, 1);
  const xml = await readFile(out, 'utf8');
  assert.equal(XMLValidator.validate(xml), true);
  assert.match(xml, /<testcase classname="fiberscope.check.probe" name="hflip" time="0">\s*<failure /);
  const [base, cand] = await Promise.all([runs.sensitive0, 'oneshot'].map(async (id) => JSON.parse(await readFile(join(store.root, runLayout(id).manifest), 'utf8')) as RunConfig));
  assert.deepEqual(cand!.sampler, base!.sampler);
  assert.equal(cand!.imageCount, IMAGES);
  assert.equal(cand!.extractor.id, 'digits-flip-invariant');
  assert.equal((await gateJson('oneshot')).verdict, 'regression');
});
