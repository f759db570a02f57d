import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crossEmbed } from '../../../activities/cross.ts';
import { cachedPairLoader } from '../../../activities/pairs.ts';
import { demoAudits } from '../../../cli/actions/demo.ts';
import { main } from '../../../cli/main.ts';
import { InputError } from '../../../engine/errors.ts';
import { tableFromIpcFile } from '../../../store/arrow.ts';
import { FileStore } from '../../../store/objects.ts';
import { captureStdout } from '../cli/fixtures.ts';

// One run of the demo for every test here: its audits are the planted problem (a prior over digits
// and their mirrors, a flip-sensitive and a flip-invariant extractor).
const out = await mkdtemp(join(tmpdir(), 'fiberscope-demo-'));
const [layout, invariant] = await demoAudits({ out, json: true });
const store = new FileStore(out);
const bundle = (name: string) => join(out, 'bundles', name);
const loadPair = cachedPairLoader();

test('the demo finds the planted flip invariance in one extractor and not in the other', () => {
  assert.equal(layout!.flipInvariant, false);
  assert.equal(invariant!.flipInvariant, true);
  // Fires on a clear majority of queries for the flip-invariant model, on a minority for the other.
  assert.ok(invariant!.hflip.imageRate > 0.6, `flip-invariant: hflip on ${invariant!.hflip.imageRate} of images`);
  assert.ok(layout!.hflip.imageRate < 0.5, `layout: hflip on ${layout!.hflip.imageRate} of images`);
  assert.ok(
    invariant!.hflip.sampleRate > 2 * layout!.hflip.sampleRate,
    `hflip sample rates ${invariant!.hflip.sampleRate} vs ${layout!.hflip.sampleRate}`,
  );
});

test("cross: the flip-invariant model's mirrored fiber samples are far off the flip-sensitive model's fiber", async () => {
  const { summary, tableKey } = await crossEmbed({ store, loadPair }, invariant!.runId, bundle('digits-layout'));
  assert.equal(summary.fibersOf.id, 'digits-flip-invariant');
  assert.equal(summary.extractor.id, 'digits-layout');
  assert.equal(summary.images, 30);
  assert.equal(summary.samples, 120);
  const hflip = summary.byProbe.find((p) => p.probe === 'hflip')!;
  // Mirrored digits share the invariant model's features; the sensitive model sees other images.
  assert.ok(hflip.ratioMedian! > 1, `hflip samples: ratio median ${hflip.ratioMedian}`);
  assert.ok(hflip.shareBelowBaseline! < 0.3, `hflip samples below the baseline: ${hflip.shareBelowBaseline}`);
  // Under its own model the same samples are closer to the query than any other real digit.
  const own = (await crossEmbed({ store, loadPair }, invariant!.runId, bundle('digits-flip-invariant'))).summary;
  assert.ok(own.byProbe.find((p) => p.probe === 'hflip')!.shareBelowBaseline! > 0.7);
  const table = tableFromIpcFile(await store.get(tableKey));
  assert.equal(table.numRows, 120);
  assert.deepEqual(
    table.schema.fields.map((f) => f.name),
    ['image_id', 'sample_index', 'fiber_metric', 'nn_baseline', 'ratio', 'nearest_probe'],
  );
});

test("cross: the flip-sensitive model's fibers stay far closer on the flip-invariant model's fiber", async () => {
  const sensitiveOnInvariant = (await crossEmbed({ store, loadPair }, layout!.runId, bundle('digits-flip-invariant'))).summary;
  const invariantOnSensitive = (await crossEmbed({ store, loadPair }, invariant!.runId, bundle('digits-layout'))).summary;
  const mirrored = invariantOnSensitive.byProbe.find((p) => p.probe === 'hflip')!;
  // The asymmetry is the finding: the sensitive model's fiber lies inside the invariant model's, not the reverse.
  assert.ok(sensitiveOnInvariant.overall.shareBelowBaseline! > 0.4, `share below ${sensitiveOnInvariant.overall.shareBelowBaseline}`);
  assert.ok(
    sensitiveOnInvariant.overall.shareBelowBaseline! > 3 * mirrored.shareBelowBaseline!,
    `${sensitiveOnInvariant.overall.shareBelowBaseline} vs ${mirrored.shareBelowBaseline}`,
  );
  assert.ok(sensitiveOnInvariant.overall.ratioMedian! < mirrored.ratioMedian!, `${sensitiveOnInvariant.overall.ratioMedian} vs ${mirrored.ratioMedian}`);
});

test('cross CLI: prints the agreement and writes cross/<extractor>.json into the run folder; an unknown run is refused by name', async () => {
  const { code, stdout } = await captureStdout(() =>
    main(['cross', '--run', join(out, 'runs', layout!.runId), '--extractor', bundle('digits-flip-invariant')]),
  );
  assert.equal(code, 0);
  assert.match(stdout, /fibers of digits-layout, embedded by digits-flip-invariant/);
  assert.match(stdout, /hflip/);
  assert.ok(await store.exists(`runs/${layout!.runId}/cross/digits-flip-invariant.json`));
  await assert.rejects(
    crossEmbed({ store, loadPair }, 'no-such-run', bundle('digits-flip-invariant')),
    (e: unknown) => e instanceof InputError && /no run 'no-such-run'/.test(e.message),
  );
});
