import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { crossEmbed } from '../../../activities/cross.ts';
import { cachedPairLoader } from '../../../activities/pairs.ts';
import { auditLocally } from '../../../cli/actions/audit.ts';
import { demoAuditArgs } from '../../../cli/actions/demo.ts';
import { main } from '../../../cli/main.ts';
import { buildDemo, DEMO } from '../../../engine/demo/build.ts';
import { InputError } from '../../../engine/errors.ts';
import { tableFromIpcFile } from '../../../store/arrow.ts';
import { FileStore } from '../../../store/objects.ts';
import { captureStdout } from '../cli/fixtures.ts';

// The planted problem of the demo: a prior over digits and their mirrors, a flip-sensitive and a
// flip-invariant extractor (φ_inv(x) = φ(x) + φ(mirror x)). Small audits: 10 queries, 2 samples each.
const out = await mkdtemp(join(tmpdir(), 'fiberscope-cross-'));
const paths = await buildDemo(join(out, 'bundles'), { ...DEMO, queriesPerLabel: 1 });
const store = new FileStore(out);
const [sensitive, invariant] = paths.extractors;
const audit = async (extractor: string) =>
  (await auditLocally({ ...demoAuditArgs(paths, extractor, store.location, true), k: 2, steps: 60 }, store)).runId;
const sensitiveRun = await audit(sensitive!.path);
const invariantRun = await audit(invariant!.path);
const loadPair = cachedPairLoader();

test('cross: the flip-invariant model\'s fibers leave the flip-sensitive model\'s fiber', async () => {
  const { summary, tableKey } = await crossEmbed({ store, loadPair }, invariantRun, sensitive!.path);
  assert.equal(summary.fibersOf.id, 'digits-flip-invariant');
  assert.equal(summary.extractor.id, 'digits-layout');
  assert.equal(summary.images, 10);
  assert.equal(summary.samples, 20);
  // Mirrored digits are in the invariant model's fibers; the sensitive model sees them as other images.
  assert.ok(summary.overall.ratioMedian! > 1, `ratio median ${summary.overall.ratioMedian}`);
  const table = tableFromIpcFile(await store.get(tableKey));
  assert.equal(table.numRows, 20);
  assert.deepEqual(table.schema.fields.map((f) => f.name), ['image_id', 'sample_index', 'fiber_metric', 'nn_baseline', 'ratio']);
});

test('cross: the flip-sensitive model\'s fibers stay on the flip-invariant model\'s fiber', async () => {
  const onInvariant = (await crossEmbed({ store, loadPair }, sensitiveRun, invariant!.path)).summary;
  const onSensitive = (await crossEmbed({ store, loadPair }, invariantRun, sensitive!.path)).summary;
  assert.ok(onInvariant.overall.ratioMedian! < 1, `ratio median ${onInvariant.overall.ratioMedian}`);
  assert.ok(onInvariant.overall.shareBelowBaseline! > 0.5, `share below baseline ${onInvariant.overall.shareBelowBaseline}`);
  // The asymmetry is the finding: one model's invariance is a subset of the other's.
  assert.ok(onSensitive.overall.ratioMedian! > 4 * onInvariant.overall.ratioMedian!, `${onSensitive.overall.ratioMedian} vs ${onInvariant.overall.ratioMedian}`);
});

test('cross CLI: prints the agreement, writes cross/<extractor>.json into the run folder; an unknown run is refused by name', async () => {
  const { code, stdout } = await captureStdout(() => main(['cross', '--run', join(out, 'runs', sensitiveRun), '--extractor', invariant!.path]));
  assert.equal(code, 0);
  assert.match(stdout, /fibers of digits-layout, embedded by digits-flip-invariant/);
  assert.match(stdout, /keeps the fiber/);
  assert.ok(await store.exists(`runs/${sensitiveRun}/cross/digits-flip-invariant.json`));
  await assert.rejects(crossEmbed({ store, loadPair }, 'no-such-run', invariant!.path), (e: unknown) => e instanceof InputError && /no run 'no-such-run'/.test(e.message));
});
