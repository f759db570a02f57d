import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor } from '../../../engine/runtime/index.ts';
import { mixer, mlp, random } from '../../fixtures/models.ts';
import { directionalCheck } from './harness.ts';

/** Whole float32 models: directional derivative of the derived gradient within 1e-3 relative error. */
for (const [name, model, dims] of [
  ['mixer (Transpose, MatMul, Tanh, erf-GELU, residual Adds)', mixer(16, 8, 2, 2), [2, 16, 8]],
  ['mlp (Gemm transB, LeakyRelu, Sigmoid)', mlp(12, 8, 3, 3), [3, 12]],
] as const) {
  test(`whole model: ${name}`, async () => {
    const r = random(7);
    const n = dims.reduce((p: number, q: number) => p * q, 1);
    const x = tensor(
      'float32',
      [...dims],
      Float32Array.from({ length: n }, () => 2 * r()),
    );
    for (const seed of ['a', 'b', 'c']) {
      const check = await directionalCheck(model, { of: 'y', wrt: ['x'], feeds: { x }, step: 1e-2, seed });
      assert.ok(
        check.relError <= 1e-3,
        `seed ${seed}: analytic ${check.analytic} numeric ${check.numeric} rel ${check.relError}`,
      );
    }
  });
}
