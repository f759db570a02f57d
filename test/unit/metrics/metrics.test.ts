import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FIBER_METRICS, diversity, fiberMetric, nearestNeighbour, rmsDistance } from '../../../engine/metrics/fiber.ts';
import type { ChwShape } from '../../../engine/metrics/probes.ts';
import {
  PROBE_NAMES,
  probeFiringRates,
  probeSample,
  probeTargets,
  validateProbes,
} from '../../../engine/metrics/probes.ts';
import { InputError } from '../../../engine/errors.ts';

test('squared L2, RMS and probability distance', () => {
  const a = [1, 2, 3, 4];
  const b = [1, 0, 3, 1];
  assert.equal(FIBER_METRICS.squared_l2(a, b), 13);
  assert.equal(FIBER_METRICS.rms(a, b), Math.sqrt(13 / 4));
  const sm = (z: number[]) => z.map((v) => Math.exp(v) / z.reduce((s, w) => s + Math.exp(w), 0));
  const pa = sm(a);
  const pb = sm(b);
  const expected = 100 * pa.reduce((s, p, j) => s + Math.abs(p - pb[j]!), 0);
  assert.ok(Math.abs(FIBER_METRICS.probability_distance(a, b) - expected) < 1e-10);
  assert.ok(FIBER_METRICS.probability_distance([100, 0], [0, 100]) > 199.9); // bounded by 200
  assert.equal(FIBER_METRICS.probability_distance(a, a), 0);
  assert.throws(
    () => fiberMetric('cosine', 'extractor.metric'),
    (e: unknown) => e instanceof InputError && e.input === 'extractor.metric',
  );
});

test('pixel RMS and diversity as mean pairwise RMS', () => {
  assert.equal(rmsDistance([0, 0, 0, 0], [1, 1, 1, 1]), 1);
  const s = Float32Array.from([0, 0, 2, 0, 0, 4]); // three 2-d samples
  const pair = (x: number[], y: number[]) => Math.sqrt(((x[0]! - y[0]!) ** 2 + (x[1]! - y[1]!) ** 2) / 2);
  const expected = (pair([0, 0], [2, 0]) + pair([0, 0], [0, 4]) + pair([2, 0], [0, 4])) / 3;
  assert.ok(Math.abs(diversity(s, 3) - expected) < 1e-6);
  assert.ok(Number.isNaN(diversity(s.subarray(0, 2), 1)));
});

test('nearest-real-neighbour skips the query itself', () => {
  const refs = [
    { id: 'q', features: [1, 1] },
    { id: 'far', features: [5, 5] },
    { id: 'near', features: [1, 3] },
  ];
  assert.deepEqual(nearestNeighbour('q', [1, 1], refs), { id: 'near', squaredL2: 4 });
  assert.ok(Number.isNaN(nearestNeighbour('q', [1, 1], [refs[0]!]).squaredL2));
  assert.throws(() => nearestNeighbour('q', [1, 1, 1], refs), /reference far/);
});

/** Image with value 10·c + y·w + x style coordinates, so every transform is checkable by index. */
function ramp([c, h, w]: ChwShape): Float32Array {
  return Float32Array.from(
    { length: c * h * w },
    (_, i) => (i % (h * w)) / (h * w) - 0.5 + 0.1 * Math.floor(i / (h * w)),
  );
}
const at = (img: Float32Array, [, h, w]: ChwShape, c: number, y: number, x: number) => img[(c * h + y) * w + x]!;

test('probe transforms by index', () => {
  const shape: ChwShape = [3, 8, 8];
  const q = ramp(shape);
  const t = probeTargets(q, shape, [-1, 1]);
  for (const [y, x] of [
    [0, 0],
    [2, 5],
    [7, 3],
  ] as const) {
    for (const c of [0, 2]) {
      assert.equal(at(t.get('hflip')!, shape, c, y, x), at(q, shape, c, y, 7 - x));
      assert.equal(at(t.get('vflip')!, shape, c, y, x), at(q, shape, c, 7 - y, x));
      assert.equal(at(t.get('rot180')!, shape, c, y, x), at(q, shape, c, 7 - y, 7 - x));
      assert.equal(at(t.get('rot90')!, shape, c, y, x), at(q, shape, c, x, 7 - y));
      assert.equal(at(t.get('rot270')!, shape, c, y, x), at(q, shape, c, 7 - x, y));
      assert.ok(Math.abs(at(t.get('invert')!, shape, c, y, x) + at(q, shape, c, y, x)) < 1e-7);
      assert.equal(at(t.get('shift_right')!, shape, c, y, x), at(q, shape, c, y, Math.max(0, x - 1)));
    }
    const l = 0.299 * at(q, shape, 0, y, x) + 0.587 * at(q, shape, 1, y, x) + 0.114 * at(q, shape, 2, y, x);
    assert.ok(Math.abs(at(t.get('grayscale')!, shape, 1, y, x) - l) < 1e-6);
  }
  // rot90 four times is the identity; blur keeps a constant image constant.
  const r1 = probeTargets(q, shape, [-1, 1], ['rot90']).get('rot90')!;
  const r2 = probeTargets(r1, shape, [-1, 1], ['rot90']).get('rot90')!;
  assert.deepEqual(r2, t.get('rot180'));
  const flat = new Float32Array(3 * 64).fill(0.3);
  assert.ok(
    probeTargets(flat, shape, [-1, 1], ['blur'])
      .get('blur')!
      .every((v) => Math.abs(v - 0.3) < 1e-6),
  );
  // Non-square, gray: rotations and grayscale do not apply.
  const tall = probeTargets(new Float32Array(16 * 8), [1, 16, 8], [0, 1]);
  assert.deepEqual([...tall.keys()].sort(), ['blur', 'hflip', 'invert', 'shift_down', 'shift_right', 'vflip']);
  assert.throws(() => validateProbes(['hflip', 'spin']), /spin/);
});

test('nearest probe, none when the query itself is closer, firing rates', () => {
  const shape: ChwShape = [1, 8, 8];
  const q = ramp(shape);
  const targets = probeTargets(q, shape, [-1, 1]);
  const mirrored = probeSample(
    targets.get('hflip')!.map((v) => v + 0.01),
    q,
    targets,
  );
  assert.equal(mirrored.nearest, 'hflip');
  assert.ok(Math.abs(mirrored.distances.get('hflip')! - 0.01) < 1e-6);
  const same = probeSample(
    q.map((v) => v + 0.01),
    q,
    targets,
  );
  assert.equal(same.nearest, 'none');
  assert.ok(Math.abs(same.pixelDistance - 0.01) < 1e-6);
  const rates = probeFiringRates(['hflip', 'none', 'hflip', 'vflip'], PROBE_NAMES);
  assert.equal(rates.get('hflip'), 0.5);
  assert.equal(rates.get('none'), 0.25);
  assert.equal(rates.get('rot90'), 0);
  assert.equal(rates.size, PROBE_NAMES.length + 1);
});

test('evaluateSamples: per-sample metric, probes and per-image diversity and nearest neighbour', async () => {
  const { evaluateSamples } = await import('../../../engine/metrics/evaluate.ts');
  const shape: ChwShape = [1, 2, 2];
  const query = Float32Array.from([0.1, 0.2, 0.3, 0.4]);
  const mirrored = Float32Array.from([0.2, 0.1, 0.4, 0.3]);
  const result = {
    items: [
      { imageId: 'a', sampleIndex: 0, query: 0 },
      { imageId: 'a', sampleIndex: 1, query: 0 },
    ],
    samples: Float32Array.from([...mirrored, ...query]),
    finite: [true, true],
    features: Float32Array.from([1, 2, 3, 3]),
    queryFeatures: Float32Array.from([1, 1, 1, 1]),
    cost: Float64Array.from([0.5, 0.25]),
    lastInnerCost: Float64Array.from([0, 0]),
    nfe: { denoiserForward: 0, denoiserBackward: 0, extractorForward: 0, extractorBackward: 0 },
    method: { variant: 'ndtm' as const, update: 'x', steps: 1, innerSteps: 1, output: 'x0' as const, seed: '0' },
  };
  const refs = [
    { id: 'a', features: [1, 1] },
    { id: 'b', features: [2, 3] },
  ];
  const out = evaluateSamples(result, [{ imageId: 'a', image: query }], {
    metric: 'squared_l2',
    shape,
    range: [0, 1],
    references: refs,
  });
  assert.equal(out.samples[0]!.fiberMetric, 1);
  assert.equal(out.samples[1]!.fiberMetric, 8);
  assert.equal(out.samples[0]!.nearestProbe, 'hflip');
  assert.equal(out.samples[1]!.nearestProbe, 'none');
  assert.ok(Math.abs(out.samples[0]!.probes['hflip']!) < 1e-7);
  assert.ok(Number.isNaN(out.samples[0]!.probes['shift_right']!)); // too small to shift by 1/8
  const img = out.images[0]!;
  assert.equal(img.samples, 2);
  assert.ok(Math.abs(img.diversity - 0.1) < 1e-6);
  assert.equal(img.meanCost, 0.375);
  assert.deepEqual([img.nearestNeighbour, img.nearestNeighbourId], [5, 'b']);
  assert.equal(img.okSamples, 2);
  assert.ok(img.topProbeRate === 0.5 && ['hflip', 'none'].includes(img.topProbe!));

  // A non-finite sample is not ok, and the image's figures are over the finite ones only.
  const poisoned = { ...result, finite: [true, false], samples: Float32Array.from([...mirrored, NaN, 0, 0, 0]) };
  const out2 = evaluateSamples(poisoned, [{ imageId: 'a', image: query }], { metric: 'squared_l2', shape, range: [0, 1] });
  assert.deepEqual(out2.samples.map((x) => x.ok), [true, false]);
  assert.ok(Number.isNaN(out2.samples[1]!.fiberMetric));
  assert.deepEqual([out2.images[0]!.okSamples, out2.images[0]!.meanCost, out2.images[0]!.topProbe], [1, 0.5, 'hflip']);
  assert.ok(Number.isNaN(out2.images[0]!.diversity));
});
