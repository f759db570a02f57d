import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { OnnxFiberObjective } from '../../../engine/guidance/compose.ts';
import { sizeOf } from '../../../engine/guidance/objective.ts';
import type { SamplerOptionsInput } from '../../../engine/guidance/options.ts';
import { resolveSamplerOptions } from '../../../engine/guidance/options.ts';
import { drawNoise, sampleFiber } from '../../../engine/guidance/sampler.ts';
import { loadExtractorBundle, loadPriorBundle } from '../../../engine/priors/load.ts';
import type { DrawOwner } from '../../../engine/random/philox.ts';
import { readNpy } from '../../../store/npy.ts';
import { relL2 } from '../../helpers/rel-l2.ts';

/**
 * Sampler parity with PyTorch (test/fixtures/sampler-parity, made by infra/export/sampler_parity.py):
 * fiberscope's NDTM sampler on real ONNX Runtime sessions of a diffusers UNet prior and a CNN
 * extractor, against the PyTorch reference written from METHOD.md (infra/export/ndtm_reference.py)
 * run in float64 on the same weights and fed fiberscope's own noise draws. Every step's state and
 * the final samples agree to a relative L2 error of 1e-4. The trajectories are piecewise smooth (clamp,
 * ReLU, Adam): float32 rounding stays at 1e-7..2e-6, while a change of 1e-5 relative can cross a kink
 * and jump to 1e-2: a failure most likely means a changed algorithm, option or draw, not rounding.
 */
const root = join(import.meta.dirname, '..', '..', 'fixtures', 'sampler-parity');
const BOUND = 1e-4;

interface SamplerCase {
  seed: string;
  imageId: string;
  sampleIndices: number[];
  options: Omit<SamplerOptionsInput, 'seed'>;
  torchFloat32RelError: { states: number[]; samples: number };
}

const npy = (dir: string, file: string) => readNpy(readFileSync(join(dir, file)), file);

for (const fixture of readdirSync(root).sort()) {
  const dir = join(root, fixture);
  const runs = readdirSync(dir)
    .filter((name) => statSync(join(dir, name)).isDirectory() && readdirSync(join(dir, name)).includes('case.json'))
    .sort();
  const prior = await loadPriorBundle(join(dir, 'prior'));
  const extractor = await loadExtractorBundle(join(dir, 'extractor'));
  const objective = await OnnxFiberObjective.create(prior, extractor);
  const D = sizeOf(objective.prior.stateShape);
  const query = npy(dir, 'query.npy');

  test(`${fixture}: the fixture holds both bundles, a query and several sampler runs`, () => {
    assert.ok(runs.length >= 2, `expected at least 2 runs, found ${runs.join(', ')}`);
    assert.equal(query.data.length, D);
  });

  for (const run of runs) {
    const at = join(dir, run);
    const c = JSON.parse(readFileSync(join(at, 'case.json'), 'utf8')) as SamplerCase;
    const owners: DrawOwner[] = c.sampleIndices.map((sampleIndex) => ({
      seed: BigInt(c.seed),
      imageId: c.imageId,
      sampleIndex,
    }));
    const K = owners.length;
    const n = c.options.steps!;

    test(`${fixture}/${run}: the noise fed to PyTorch is the sampler's own draws`, () => {
      assert.deepEqual(npy(at, 'x_T.npy').data, drawNoise(owners, 'x_T', 0, D));
      for (const stream of ['target', 'update'] as const) {
        const all = npy(at, `${stream}.npy`);
        for (let i = 0; i < n; i++)
          assert.deepEqual(
            all.data.subarray(i * K * D, (i + 1) * K * D),
            drawNoise(owners, stream, i, D),
            `${stream} step ${i}`,
          );
      }
    });

    test(`sampler parity with PyTorch float64: ${fixture}/${run}`, async (t) => {
      const options = resolveSamplerOptions({ ...c.options, seed: c.seed }, objective.prior);
      assert.ok(options.innerSteps >= 2 && options.gamma.some((g) => g.start > 0 || g.end > 0), 'guidance is on');
      const states: Float32Array[] = [];
      const result = await sampleFiber(
        objective,
        [{ imageId: c.imageId, image: query.data, sampleIndices: c.sampleIndices }],
        options,
        { onStep: (_done, _steps, state) => void states.push(state.x) },
      );
      const reference = npy(at, 'states64.npy');
      assert.deepEqual(reference.shape, [n, K, ...objective.prior.stateShape]);
      const perStep = states.map((x, i) => relL2(x, reference.data.subarray(i * K * D, (i + 1) * K * D)));
      const final = relL2(result.samples, npy(at, 'samples64.npy').data);
      const torch32 = c.torchFloat32RelError;
      t.diagnostic(
        `relative L2 per step ${perStep.map((e) => e.toExponential(1)).join(' ')}, samples ${final.toExponential(2)} ` +
          `(PyTorch float32: ${torch32.states.map((e) => e.toExponential(1)).join(' ')}, samples ${torch32.samples.toExponential(2)})`,
      );
      assert.equal(states.length, n);
      perStep.forEach((e, i) => assert.ok(e <= BOUND, `step ${i}: relative L2 error ${e.toExponential(2)} > ${BOUND}`));
      assert.ok(final <= BOUND, `samples: relative L2 error ${final.toExponential(2)} > ${BOUND}`);
    });
  }
}
