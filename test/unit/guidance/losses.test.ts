import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FIBER_LOSSES, batchLoss, fiberLoss } from '../../../engine/guidance/losses.ts';

const h = [0.3, -1.2, 2.0, 0.5];
const y = [1.0, -0.2, 1.5, 0.5];

test('l2 is the unsquared norm, l1 the absolute sum, cross_entropy against softmax(y)', () => {
  assert.ok(Math.abs(FIBER_LOSSES.l2.value(h, y) - Math.sqrt(0.49 + 1 + 0.25)) < 1e-12);
  assert.ok(Math.abs(FIBER_LOSSES.l1.value(h, y) - (0.7 + 1 + 0.5)) < 1e-12);
  const q = y.map(Math.exp);
  const zq = q.reduce((a, b) => a + b);
  const p = h.map(Math.exp);
  const zp = p.reduce((a, b) => a + b);
  const ce = -q.reduce((acc, qi, j) => acc + (qi / zq) * Math.log(p[j]! / zp), 0);
  assert.ok(Math.abs(FIBER_LOSSES.cross_entropy.value(h, y) - ce) < 1e-12);
});

test('loss gradients agree with central differences', () => {
  for (const name of ['l2', 'l1', 'cross_entropy'] as const) {
    const loss = FIBER_LOSSES[name];
    const g = new Float64Array(h.length);
    loss.grad(h, y, g);
    for (let j = 0; j < h.length; j++) {
      if (name === 'l1' && h[j] === y[j]) continue; // kink
      const e = 1e-6;
      const hp = h.slice();
      const hm = h.slice();
      hp[j]! += e;
      hm[j]! -= e;
      const fd = (loss.value(hp, y) - loss.value(hm, y)) / (2 * e);
      assert.ok(Math.abs(fd - g[j]!) < 1e-6, `${name}[${j}]: ${g[j]} vs ${fd}`);
    }
  }
});

test('per-sample batch losses and unknown names', () => {
  const hb = Float32Array.from([...h, ...y]);
  const yb = Float32Array.from([...y, ...y]);
  const out = batchLoss('l2', hb, yb, 2);
  assert.ok(Math.abs(out[0]! - FIBER_LOSSES.l2.value(h, y)) < 1e-6);
  assert.equal(out[1], 0);
  assert.throws(() => fiberLoss('huber', 'extractor.loss'), /extractor.loss/);
});
