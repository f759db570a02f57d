import assert from 'node:assert/strict';
import { test } from 'node:test';
import { averageRanks, holm, signedRankTest } from '../../../gate/stats.ts';

test('signed-rank test: exact two-sided p-values from the sign-flip distribution', () => {
  // All five positive: 2 of 2^5 sign assignments are as extreme.
  assert.equal(signedRankTest([1, 2, 3, 4, 5]).pValue, 2 / 32);
  // n = 8, W- = 6: P(W- <= 6) = 14/256, doubled.
  assert.equal(signedRankTest([1, -2, 3, -4, 5, 6, 7, 8]).pValue, 28 / 256);
  // Zeros carry no sign; none left means no evidence.
  assert.deepEqual(signedRankTest([0, 0, 0]), { n: 0, wPlus: 0, pValue: 1, method: 'exact' });
  assert.equal(signedRankTest([0, 1, 2, 3, 4, 5]).n, 5);
});

test('signed-rank test: ties share ranks and the distribution is that of the averaged ranks', () => {
  assert.deepEqual(averageRanks([0.1, 0.1, 0.3, 0.2]), [1.5, 1.5, 4, 3]);
  // Four equal magnitudes, three positive: |W+ - 5| = 2.5 or more for 2·(1 + 4)/16 of assignments.
  assert.equal(signedRankTest([0.1, 0.1, 0.1, -0.1]).pValue, 10 / 16);
});

test('signed-rank test: the normal approximation for large samples agrees with a symmetric null and detects a shift', () => {
  const noise = Array.from({ length: 400 }, (_, i) => Math.sin(i * 12.9898) * 0.5);
  const balanced = [...noise, ...noise.map((x) => -x)];
  const r = signedRankTest(balanced);
  assert.equal(r.method, 'normal');
  assert.ok(r.pValue > 0.9, `p ${r.pValue}`);
  assert.ok(signedRankTest(noise.map((x) => x + 0.2)).pValue < 1e-6);
  // Near the switch both methods agree.
  const d = Array.from({ length: 200 }, (_, i) => Math.sin(i * 3.7) + 0.15);
  const exact = signedRankTest(d).pValue;
  const normal = signedRankTest([...d, ...d]).pValue;
  assert.ok(exact > 0 && exact < 0.1 && normal < exact, `${exact} ${normal}`);
});

test('Holm: step-down adjustment, monotone, capped at 1', () => {
  assert.deepEqual(holm([0.01, 0.04, 0.03, 0.5]), [0.04, 0.09, 0.09, 0.5]);
  assert.deepEqual(holm([0.9, 0.6]), [1, 1]);
  assert.deepEqual(holm([]), []);
});
