import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gaussian, philox4x32 } from '../../../engine/random/philox.ts';

test('Philox4x32-10 matches the published known-answer vectors', () => {
  const out = new Uint32Array(4);
  const cases: [number[], [number, number], number[]][] = [
    [
      [0, 0, 0, 0],
      [0, 0],
      [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8],
    ],
    [
      [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff],
      [0xffffffff, 0xffffffff],
      [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd],
    ],
    [
      [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
      [0xa4093822, 0x299f31d0],
      [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1],
    ],
  ];
  for (const [ctr, key, expected] of cases) {
    philox4x32(ctr, key, out);
    assert.deepEqual([...out], expected);
  }
});

/** Philox4x32-10 written independently with BigInt products. */
function philoxBig(ctr: bigint[], key: bigint[]): number[] {
  const M = 0xffffffffn;
  let [c0, c1, c2, c3] = ctr as [bigint, bigint, bigint, bigint];
  let [k0, k1] = key as [bigint, bigint];
  for (let r = 0; r < 10; r++) {
    const p0 = 0xd2511f53n * c0;
    const p1 = 0xcd9e8d57n * c2;
    [c0, c1, c2, c3] = [((p1 >> 32n) ^ c1 ^ k0) & M, p1 & M, ((p0 >> 32n) ^ c3 ^ k1) & M, p0 & M];
    k0 = (k0 + 0x9e3779b9n) & M;
    k1 = (k1 + 0xbb67ae85n) & M;
  }
  return [c0, c1, c2, c3].map(Number);
}

test('Philox agrees with a BigInt implementation on many counters and keys', () => {
  const out = new Uint32Array(4);
  let s = 12345;
  const next = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0);
  for (let n = 0; n < 300; n++) {
    const ctr = [next(), next(), next(), next()];
    const key: [number, number] = [next(), next()];
    philox4x32(ctr, key, out);
    assert.deepEqual([...out], philoxBig(ctr.map(BigInt), key.map(BigInt)));
  }
});

const owner = { seed: 42n, imageId: 'img-7', sampleIndex: 3 };

test('draws are a pure function of (seed, image, sample, stream, step)', () => {
  const a = new Float32Array(101);
  const b = new Float32Array(101);
  gaussian(owner, 'x_T', 0, a);
  gaussian({ ...owner }, 'x_T', 0, b);
  assert.deepEqual(a, b);
  const differs = (o: typeof owner, stream: 'x_T' | 'update' | 'target', step: number) => {
    const c = new Float32Array(101);
    gaussian(o, stream, step, c);
    return c.some((v, j) => v !== a[j]);
  };
  assert.ok(differs({ ...owner, seed: 43n }, 'x_T', 0));
  assert.ok(differs({ ...owner, imageId: 'img-8' }, 'x_T', 0));
  assert.ok(differs({ ...owner, sampleIndex: 4 }, 'x_T', 0));
  assert.ok(differs(owner, 'update', 0));
  assert.ok(differs(owner, 'x_T', 1));
});

test('a prefix of a longer draw equals the shorter draw (elements do not depend on length)', () => {
  const long = new Float32Array(1001);
  const short = new Float32Array(37);
  gaussian(owner, 'target', 5, long);
  gaussian(owner, 'target', 5, short);
  assert.deepEqual(short, long.subarray(0, 37));
});

test('draws are standard normal (moments over 200k values)', () => {
  const x = new Float32Array(200000);
  gaussian(owner, 'update', 9, x);
  let m = 0;
  for (const v of x) m += v;
  m /= x.length;
  let v2 = 0;
  let m4 = 0;
  for (const v of x) {
    v2 += (v - m) ** 2;
    m4 += (v - m) ** 4;
  }
  v2 /= x.length;
  m4 /= x.length;
  assert.ok(Math.abs(m) < 0.01, `mean ${m}`);
  assert.ok(Math.abs(v2 - 1) < 0.01, `variance ${v2}`);
  assert.ok(Math.abs(m4 / (v2 * v2) - 3) < 0.05, `kurtosis ${m4 / (v2 * v2)}`);
});
