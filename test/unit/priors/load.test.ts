import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gaussianPrior, linearExtractor } from '../../../engine/priors/analytic.ts';
import { loadExtractorBundle, loadPriorBundle } from '../../../engine/priors/load.ts';
import { saveModel } from '../../../engine/onnx/index.ts';
import { InputError } from '../../../engine/errors.ts';
import { OnnxFiberObjective } from '../../../engine/guidance/compose.ts';

test('bundle folders load with their ONNX files; declared names are checked against the models', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bundles-'));
  try {
    const prior = gaussianPrior({
      shape: [1, 2, 2],
      mean: new Float64Array(4),
      variances: new Float64Array(4).fill(1),
    });
    const ext = linearExtractor(Float64Array.from([1, 0, 0, 1, 0, 1, 1, 0]), 2, [1, 2, 2]);
    const p = join(dir, 'prior');
    const e = join(dir, 'extractor');
    for (const d of [p, e]) await mkdir(d);
    saveModel(prior.model, join(p, 'gaussian.onnx'));
    saveModel(ext.model, join(e, 'linear.onnx'));
    const priorJson = {
      version: 1,
      kind: 'prior',
      type: 'diffusion',
      denoiser: { file: 'gaussian.onnx' },
      image: { channels: 1, height: 2, width: 2 },
    };
    await writeFile(join(p, 'fiberscope.json'), JSON.stringify(priorJson));
    await writeFile(
      join(e, 'fiberscope.json'),
      JSON.stringify({ version: 1, kind: 'extractor', model: 'linear.onnx' }),
    );
    const loadedPrior = await loadPriorBundle(p);
    const loadedExtractor = await loadExtractorBundle(e);
    assert.equal(loadedPrior.denoiser.graph.nodes.length, prior.model.graph.nodes.length);
    const obj = await OnnxFiberObjective.create(loadedPrior, loadedExtractor);
    assert.equal(obj.featureDim, 2);
    await assert.rejects(loadExtractorBundle(p), /expected an extractor bundle/);
    await writeFile(
      join(p, 'fiberscope.json'),
      JSON.stringify({ ...priorJson, denoiser: { file: 'gaussian.onnx', timestep: 'sigma' } }),
    );
    await assert.rejects(
      loadPriorBundle(p),
      (err: unknown) =>
        err instanceof InputError && err.input === 'denoiser.timestep' && /inputs: x, t/.test(err.message),
    );
    await writeFile(join(p, 'fiberscope.json'), JSON.stringify({ ...priorJson, denoiser: { file: 'missing.onnx' } }));
    await assert.rejects(
      loadPriorBundle(p),
      (err: unknown) => err instanceof InputError && /missing\.onnx/.test(err.input),
    );
  } finally {
    await rm(dir, { recursive: true });
  }
});
