/** Every formula of METHOD §3–§5 against values computed independently here. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NoiseSchedule, respace, timestepGrid, walk } from '../../../engine/priors/schedule.ts';
import { gammaAt, learningRateAt } from '../../../engine/guidance/gamma.ts';
import { Adam, normalizePerSample } from '../../../engine/guidance/adam.ts';
import {
  ancestralCoefficients,
  ancestralUpdate,
  ddimCoefficients,
  ddimUpdate,
  eulerUpdate,
  flowEndpoint,
  toEpsilon,
  tweedie,
} from '../../../engine/guidance/updates.ts';
import { PRESETS } from '../../../engine/guidance/options.ts';

const close = (a: number, b: number, tol = 1e-9, what = '') =>
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

test('linear schedule: β from 1e-4 to 0.02 over 1000 steps, ᾱ as a running product, ᾱ(−1) = 1', () => {
  const s = new NoiseSchedule();
  close(s.betas[0]!, 1e-4);
  close(s.betas[999]!, 0.02);
  close(s.betas[500]!, 1e-4 + (500 * (0.02 - 1e-4)) / 999);
  let prod = 1;
  for (let t = 0; t <= 999; t++) {
    prod *= 1 - (1e-4 + (t * (0.02 - 1e-4)) / 999);
    if (t % 111 === 0 || t === 999) close(s.alphaBar(t), prod, 1e-12, `ᾱ(${t})`);
  }
  assert.equal(s.alphaBar(-1), 1);
  assert.throws(() => s.alphaBar(1000), RangeError);
});

test('declared scaled_linear and cosine schedules', () => {
  const sl = new NoiseSchedule({ type: 'scaled_linear', betaStart: 0.00085, betaEnd: 0.012, timesteps: 1000 });
  close(sl.betas[0]!, 0.00085);
  close(sl.betas[999]!, 0.012);
  const mid = Math.sqrt(0.00085) + (Math.sqrt(0.012) - Math.sqrt(0.00085)) * (400 / 999);
  close(sl.betas[400]!, mid * mid);
  const cos = new NoiseSchedule({ type: 'cosine', betaStart: 0, betaEnd: 0, timesteps: 1000 });
  const f = (t: number) => Math.cos(((t / 1000 + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
  close(cos.alphaBar(499), f(500) / f(0), 1e-9, 'cosine ᾱ');
});

test('timestep grid ts = ⌊i·T/n⌋, walked backwards with s = ts[k−1] or −1 and i = n−1−k', () => {
  assert.deepEqual(timestepGrid(3, 1000), [0, 333, 666]);
  const g200 = timestepGrid(200, 1000);
  assert.equal(g200.length, 200);
  assert.ok(g200.every((t, i) => t === 5 * i));
  const w = walk(timestepGrid(3, 1000));
  assert.deepEqual(w, [
    { i: 0, k: 2, t: 666, s: 333 },
    { i: 1, k: 1, t: 333, s: 0 },
    { i: 2, k: 0, t: 0, s: -1 },
  ]);
  assert.deepEqual(timestepGrid(7, 1000), [0, 142, 285, 428, 571, 714, 857]);
});

test('respacing: as released rescales the linear β to n steps; exact follows ᾱ at the grid', () => {
  const s = new NoiseSchedule();
  const grid = timestepGrid(200, 1000);
  const released = respace(s, grid, 'as-released');
  close(released.betas[0]!, 5 * 1e-4);
  close(released.betas[199]!, 5 * 0.02);
  close(released.betas[77]!, 5e-4 + (77 * (0.1 - 5e-4)) / 199);
  const exact = respace(s, grid, 'exact');
  for (const k of [0, 1, 50, 199]) close(exact.alphasCumprod[k]!, s.alphaBar(grid[k]!), 1e-10, `ᾱ′(${k})`);
  close(exact.betas[3]!, 1 - s.alphaBar(15) / s.alphaBar(10));
  const cosine = new NoiseSchedule({ type: 'cosine', betaStart: 0, betaEnd: 0, timesteps: 1000 });
  assert.throws(() => respace(cosine, grid, 'as-released'), /update.respacing/);
});

test('γ(t): first anchor with t_end ≤ t ≤ t_start, cosine from start to end', () => {
  const anchors = PRESETS['imagenet-dinov2'].gamma;
  const cosInterp = (start: number, end: number, ts: number, te: number, t: number) =>
    end + 0.5 * (start - end) * (1 + Math.cos((Math.PI * (ts - t)) / (ts - te)));
  assert.equal(gammaAt(anchors, 1000), 0);
  assert.equal(gammaAt(anchors, 800), 0); // first matching anchor wins at shared boundaries
  assert.equal(gammaAt(anchors, 700), 3);
  close(gammaAt(anchors, 400), 0.75); // midpoint of 1 → 0.5
  close(gammaAt(anchors, 333), cosInterp(1, 0.5, 600, 200, 333));
  assert.equal(gammaAt(anchors, 200), 0.5);
  close(gammaAt(anchors, 50), cosInterp(2, 10, 200, 0, 50));
  assert.equal(gammaAt(anchors, 0), 10);
  assert.equal(gammaAt([{ start: 1, end: 1, tStart: 500, tEnd: 0 }], 700), 0); // outside every anchor: unguided
  const flow = PRESETS.flow.gamma;
  assert.equal(gammaAt(flow, 0.8), 5);
  close(gammaAt(flow, 0.3), 0.6);
  close(gammaAt(flow, 0.05), 0.1);
});

test('lr decay u_lr·(1 − i/n)', () => {
  close(learningRateAt(2e-3, 0, 200), 2e-3);
  close(learningRateAt(2e-3, 50, 200), 1.5e-3);
  close(learningRateAt(2e-3, 199, 200), 1e-5);
});

test('Adam matches a hand-rolled bias-corrected reference over several steps', () => {
  const grads = [
    [0.3, -1.2, 0],
    [0.1, 0.5, -2],
    [-0.7, 0.2, 1e-4],
    [0.05, -0.05, 3],
  ];
  const lr = 0.01;
  const p = new Float32Array([1, -2, 0.5]);
  const adam = new Adam(3, lr);
  const ref = [1, -2, 0.5];
  const m = [0, 0, 0];
  const v = [0, 0, 0];
  grads.forEach((g, step) => {
    adam.step(p, Float32Array.from(g));
    const t = step + 1;
    for (let j = 0; j < 3; j++) {
      m[j] = 0.9 * m[j]! + 0.1 * g[j]!;
      v[j] = 0.999 * v[j]! + 0.001 * g[j]! ** 2;
      const mHat = m[j]! / (1 - 0.9 ** t);
      const vHat = v[j]! / (1 - 0.999 ** t);
      ref[j] = ref[j]! - (lr * mHat) / (Math.sqrt(vHat) + 1e-8);
    }
    for (let j = 0; j < 3; j++) close(p[j]!, Math.fround(ref[j]!), 1e-6, `step ${t} p[${j}]`);
  });
  // First step moves every coordinate with a nonzero gradient by ≈ lr, the sign of the gradient.
  const fresh = new Float32Array(2);
  new Adam(2, 0.01).step(fresh, Float32Array.from([5, -1e-3]));
  close(fresh[0]!, -0.01, 1e-5);
  close(fresh[1]!, 0.01 * (1e-3 / (1e-3 + 1e-8)), 1e-4);
});

test('per-sample gradient normalisation: grad·min(1, 1/(‖grad‖+1e-6))', () => {
  const g = Float32Array.from([3, 4, 0.1, 0.2]);
  normalizePerSample(g, 2);
  const scale = 1 / (5 + 1e-6);
  close(g[0]!, Math.fround(3 * scale), 1e-7);
  close(g[1]!, Math.fround(4 * scale), 1e-7);
  assert.equal(g[2], Math.fround(0.1)); // norm below one: untouched
  assert.equal(g[3], Math.fround(0.2));
});

test('Tweedie and conversions of ε, v and x₀ predictions', () => {
  const ab = 0.37;
  const x0 = Float32Array.from([0.5, -0.25, 0.9]);
  const eps = Float32Array.from([1.1, -0.3, 0.2]);
  const xt = x0.map((v, j) => Math.sqrt(ab) * v + Math.sqrt(1 - ab) * eps[j]!);
  const v = x0.map((v0, j) => Math.sqrt(ab) * eps[j]! - Math.sqrt(1 - ab) * v0);
  const fromEps = tweedie(xt, eps, ab);
  const fromV = toEpsilon('v', xt, v, ab);
  const fromX0 = toEpsilon('x0', xt, x0, ab);
  for (let j = 0; j < 3; j++) {
    close(fromEps[j]!, x0[j]!, 1e-5);
    close(fromV[j]!, eps[j]!, 1e-5);
    close(fromX0[j]!, eps[j]!, 1e-5);
  }
  assert.equal(toEpsilon('epsilon', xt, eps, ab), eps);
});

test('DDIM small/large coefficients and update', () => {
  const at = 0.3;
  const as = 0.6;
  const postVar = ((1 - as) / (1 - at)) * (1 - at / as);
  const small = ddimCoefficients(at, as, 1, 'small');
  close(small.c1 ** 2, postVar, 1e-12, 'small η=1 is the DDPM posterior variance');
  close(small.c1 ** 2 + small.c2 ** 2, 1 - as, 1e-12);
  const half = ddimCoefficients(at, as, 0.5, 'small');
  close(half.c1, 0.5 * Math.sqrt(postVar));
  const det = ddimCoefficients(at, as, 0, 'large');
  assert.equal(det.c1, 0);
  close(det.c2, Math.sqrt(1 - as));
  const large = ddimCoefficients(at, as, 0.5, 'large');
  close(large.c1, 0.5 * Math.sqrt(1 - at / as));
  close(large.c2, Math.sqrt(1 - as - ((1 - as) / (1 - at)) * 0.25 * (1 - at / as)));
  const last = ddimCoefficients(at, 1, 1, 'small');
  assert.equal(last.c1, 0);
  assert.equal(last.c2, 0);
  const out = ddimUpdate(Float32Array.from([0.2]), Float32Array.from([-1]), Float32Array.from([0.7]), as, large);
  close(out[0]!, Math.sqrt(as) * 0.2 + large.c1 * 0.7 - large.c2, 1e-6);
});

test('ancestral posterior mean and variance equal the Gaussian posterior q(x_{k−1} | x_k, x₀)', () => {
  const s = new NoiseSchedule();
  const grid = timestepGrid(50, 1000);
  for (const respacing of ['as-released', 'exact'] as const) {
    const chain = respace(s, grid, respacing);
    for (const k of [1, 17, 49]) {
      const c = ancestralCoefficients(chain, k);
      const aPrev = chain.alphasCumprod[k - 1]!;
      const beta = chain.betas[k]!;
      // Bayes: N(x_{k−1}; √ᾱ_{k−1} x₀, 1−ᾱ_{k−1}) · N(x_k; √(1−β) x_{k−1}, β)
      const precision = 1 / (1 - aPrev) + (1 - beta) / beta;
      const x0 = 0.4;
      const xk = -1.3;
      const mean = ((Math.sqrt(aPrev) * x0) / (1 - aPrev) + (Math.sqrt(1 - beta) * xk) / beta) / precision;
      close(c.coefX0 * x0 + c.coefXt * xk, mean, 1e-9, `${respacing} mean k=${k}`);
      close(c.posteriorVariance, 1 / precision, 1e-9, `${respacing} variance k=${k}`);
      const one = Float32Array.from([1]);
      const zero = Float32Array.from([0]);
      close(ancestralUpdate(zero, zero, one, c, 'small')[0]!, Math.sqrt(1 / precision), 1e-6);
      close(ancestralUpdate(zero, zero, one, c, 'large')[0]!, Math.sqrt(beta), 1e-6);
      // learned_range: v = 1 → β, v = −1 → posterior variance, v = 0 → their geometric mean.
      const lr = (v: number) => ancestralUpdate(zero, zero, one, c, 'learned_range', Float32Array.from([v]))[0]!;
      close(lr(1), Math.sqrt(beta), 1e-6);
      close(lr(-1), Math.sqrt(1 / precision), 1e-6);
      close(lr(0), Math.sqrt(Math.sqrt(beta / precision)), 1e-6);
      close(lr(0.5), Math.exp(0.5 * (0.75 * Math.log(beta) + 0.25 * Math.log(1 / precision))), 1e-6);
    }
    const c0 = ancestralCoefficients(chain, 0);
    assert.equal(c0.posteriorVariance, 0);
    assert.ok(Number.isFinite(c0.posteriorLogVarianceClipped));
    close(c0.coefX0, 1, 1e-12); // at k = 0 the mean is x̂₀ itself
    assert.equal(
      ancestralUpdate(Float32Array.from([0.3]), Float32Array.from([9]), null, c0, 'small')[0],
      Math.fround(0.3),
    );
  }
});

test('flow endpoint x̂₁ = x_t + (1−t)v and Euler x′ + dt·v', () => {
  const xt = Float32Array.from([0.2, -0.4]);
  const v = Float32Array.from([1, 2]);
  const e = flowEndpoint(xt, v, 0.25);
  close(e[0]!, 0.2 + 0.75, 1e-6);
  close(e[1]!, -0.4 + 1.5, 1e-6);
  const s = eulerUpdate(xt, v, 0.01);
  close(s[1]!, -0.4 + 0.02, 1e-6);
});
