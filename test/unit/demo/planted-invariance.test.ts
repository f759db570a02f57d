import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { demoAudits } from '../../../cli/actions/demo.ts';

test('the demo finds the planted flip invariance in one extractor and not in the other', async () => {
  const out = await mkdtemp(join(tmpdir(), 'fiberscope-demo-'));
  const [layout, invariant] = await demoAudits({ out, json: true });
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
