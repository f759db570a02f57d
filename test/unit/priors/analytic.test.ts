import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  empiricalPrior,
  gaussianMixturePrior,
  gaussianPrior,
  symmetricEigen,
} from '../../../engine/priors/analytic.ts';
import { NoiseSchedule } from '../../../engine/priors/schedule.ts';
import { openSession, tensor } from '../../../engine/runtime/index.ts';
import { lcg } from '../../helpers/diagonal-gaussian.ts';

const schedule = new NoiseSchedule();

async function eps(model: Parameters<typeof openSession>[0], x: Float32Array, dims: number[], t: number[]) {
  const s = await openSession(model);
  const out = await s.run({ x: tensor('float32', dims, x), t: tensor('int64', [t.length], t) });
  return out['eps']!.data as Float32Array;
}

/** Score of a density by central differences of its log, in float64: ε = −√(1−ā)·∇log p. */
function epsByDifferences(logp: (x: Float64Array) => number, x: Float64Array, abar: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let j = 0; j < x.length; j++) {
    const h = 1e-5;
    const xp = Float64Array.from(x);
    const xm = Float64Array.from(x);
    xp[j]! += h;
    xm[j]! -= h;
    out[j] = (-Math.sqrt(1 - abar) * (logp(xp) - logp(xm))) / (2 * h);
  }
  return out;
}

test('Gaussian prior: ε equals −√(1−ā)·score of N(√ā μ, ā Σ + (1−ā) I)', async () => {
  const D = 6;
  const r = lcg(21);
  const A = Float64Array.from({ length: D * D }, () => r());
  const S = new Float64Array(D * D); // A Aᵀ + 0.1 I
  for (let i = 0; i < D; i++)
    for (let j = 0; j < D; j++) {
      let acc = i === j ? 0.1 : 0;
      for (let k = 0; k < D; k++) acc += A[i * D + k]! * A[j * D + k]!;
      S[i * D + j] = acc;
    }
  const { values, basis } = symmetricEigen(S, D);
  // Q diag(λ) Qᵀ reproduces S.
  for (let i = 0; i < D; i++)
    for (let j = 0; j < D; j++) {
      let acc = 0;
      for (let k = 0; k < D; k++) acc += basis[i * D + k]! * values[k]! * basis[j * D + k]!;
      assert.ok(Math.abs(acc - S[i * D + j]!) < 1e-9);
    }
  const mean = Float64Array.from({ length: D }, () => r());
  const prior = gaussianPrior({ shape: [1, 2, 3], mean, basis, variances: values });
  const ts = [0, 400, 999];
  const x = Float32Array.from({ length: 3 * D }, () => 2 * r());
  const got = await eps(prior.model, x, [3, 1, 2, 3], ts);
  ts.forEach((t, n) => {
    const ab = schedule.alphaBar(t);
    // C = ā S + (1 − ā) I; ε = √(1−ā) C⁻¹ (x − √ā μ), solved here by Gauss–Jordan.
    const C = S.map((v, idx) => ab * v + (idx % (D + 1) === 0 ? 1 - ab : 0));
    const rhs = Float64Array.from({ length: D }, (_, j) => x[n * D + j]! - Math.sqrt(ab) * mean[j]!);
    const aug = Array.from({ length: D }, (_, i) => [...C.subarray(i * D, (i + 1) * D), rhs[i]!]);
    for (let c = 0; c < D; c++) {
      const p = aug.reduce((best, row, i) => (i >= c && Math.abs(row[c]!) > Math.abs(aug[best]![c]!) ? i : best), c);
      [aug[c], aug[p]] = [aug[p]!, aug[c]!];
      for (let i = 0; i < D; i++)
        if (i !== c) {
          const f = aug[i]![c]! / aug[c]![c]!;
          for (let k = c; k <= D; k++) aug[i]![k]! -= f * aug[c]![k]!;
        }
    }
    for (let j = 0; j < D; j++) {
      const expected = (Math.sqrt(1 - ab) * aug[j]![D]!) / aug[j]![j]!;
      assert.ok(
        Math.abs(got[n * D + j]! - expected) < 2e-4 * Math.max(1, Math.abs(expected)),
        `t=${t} j=${j}: ${got[n * D + j]} vs ${expected}`,
      );
    }
  });
});

test('Gaussian mixture and empirical priors: ε equals −√(1−ā)·∇log p_t by differences', async () => {
  const D = 4;
  const r = lcg(5);
  const means = [0, 1, 2].map(() => Float64Array.from({ length: D }, () => 2 * r()));
  const stds = [0.3, 0.5, 0.2];
  const weights = [0.2, 0.5, 0.3];
  const mix = gaussianMixturePrior({ shape: [1, 1, D], means, stds, weights });
  const emp = empiricalPrior(
    means.map((m) => Float32Array.from(m)),
    { shape: [1, 1, D] },
  );
  for (const [prior, s, w] of [
    [mix, stds, weights],
    [emp, [0, 0, 0], [1 / 3, 1 / 3, 1 / 3]],
  ] as const) {
    for (const t of [50, 500, 900]) {
      const ab = schedule.alphaBar(t);
      const logp = (x: Float64Array) => {
        let total = 0;
        means.forEach((mu, k) => {
          const c = ab * s[k]! ** 2 + 1 - ab;
          let d2 = 0;
          for (let j = 0; j < D; j++) d2 += (x[j]! - Math.sqrt(ab) * mu[j]!) ** 2;
          total += (w[k]! * Math.exp(-d2 / (2 * c))) / (2 * Math.PI * c) ** (D / 2);
        });
        return Math.log(total);
      };
      const x = Float64Array.from({ length: D }, () => 1.5 * r());
      const expected = epsByDifferences(logp, x, ab);
      const got = await eps(prior.model, Float32Array.from(x), [1, 1, 1, D], [t]);
      for (let j = 0; j < D; j++) {
        assert.ok(
          Math.abs(got[j]! - expected[j]!) < 2e-3 * Math.max(1, Math.abs(expected[j]!)),
          `${prior.manifest.name} t=${t} j=${j}: ${got[j]} vs ${expected[j]}`,
        );
      }
    }
  }
});
