/**
 * The whole sampler on ONNX against a closed-form answer (bench/known-answer.ts): Gaussian prior
 * (D = 64) and linear extractor (8 × 64); targets: mean relative constraint residual ≤ 0.05 and
 * null-space variance within [0.8, 1.25] of the exact fiber posterior's, over 64 samples.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runKnownAnswer } from '../../../bench/known-answer.ts';

const settings = (variant: 'ndtm' | 'static-target') => ({
  samples: 64,
  sampler: {
    preset: 'cue-conflict',
    steps: 200,
    innerSteps: 5,
    lr: 0.05,
    gamma: [{ start: 2, end: 2, tStart: 1000, tEnd: 0 }],
    update: { kind: 'ancestral' as const, variance: 'small' as const, respacing: 'exact' as const },
    variant,
    seed: 1n,
  },
});

for (const variant of ['ndtm', 'static-target'] as const) {
  test(`known answer (${variant}): samples satisfy the constraint and spread like the exact fiber posterior`, async () => {
    const f = await runKnownAnswer(settings(variant));
    console.log(
      `${variant}: residual ${f.residual.toFixed(4)}, null-space variance ratio ${f.nullVarianceRatio.toFixed(3)}`,
    );
    assert.ok(f.residual <= 0.05, `residual ${f.residual}`);
    assert.ok(
      f.unguidedResidual > 0.5,
      `unguided residual ${f.unguidedResidual} (the constraint must not hold by itself)`,
    );
    assert.ok(f.nullVarianceRatio >= 0.8 && f.nullVarianceRatio <= 1.25, `variance ratio ${f.nullVarianceRatio}`);
  });
}
