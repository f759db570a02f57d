/**
 * Counter-based randomness: every draw is a pure function of (run seed, image id, sample index,
 * stream, step, element index), so a sample is reproducible whatever the batching or sharding.
 * Philox4x32-10 (Salmon et al., SC 2011) with a 64-bit key derived from the run seed, image id,
 * sample index and stream; the counter holds the element block, the step and the stream.
 */

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

const M0_LO = M0 & 0xffff;
const M0_HI = M0 >>> 16;
const M1_LO = M1 & 0xffff;
const M1_HI = M1 >>> 16;

/**
 * High 32 bits of a 32×32-bit product from 16-bit halves (every partial product is exact in a double).
 * The low half is Math.imul.
 */
function mulhi(aLo: number, aHi: number, b: number): number {
  const bLo = b & 0xffff;
  const bHi = b >>> 16;
  const lh = aLo * bHi;
  const hl = aHi * bLo;
  const mid = ((aLo * bLo) >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  return (aHi * bHi + (lh >>> 16) + (hl >>> 16) + (mid >>> 16)) >>> 0;
}

/** Philox4x32 with 10 rounds; writes the 4 output words into `out`. */
export function philox4x32(counter: ArrayLike<number>, key: readonly [number, number], out: Uint32Array): void {
  let c0 = counter[0]! >>> 0;
  let c1 = counter[1]! >>> 0;
  let c2 = counter[2]! >>> 0;
  let c3 = counter[3]! >>> 0;
  let k0 = key[0] >>> 0;
  let k1 = key[1] >>> 0;
  for (let round = 0; round < 10; round++) {
    const hi0 = mulhi(M0_LO, M0_HI, c0);
    const lo0 = Math.imul(M0, c0) >>> 0;
    const hi1 = mulhi(M1_LO, M1_HI, c2);
    const lo1 = Math.imul(M1, c2) >>> 0;
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
    k0 = (k0 + W0) >>> 0;
    k1 = (k1 + W1) >>> 0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

const MASK64 = (1n << 64n) - 1n;

/** SplitMix64's finaliser: a bijective 64-bit mixer, so distinct inputs give distinct keys. */
function mix64(z: bigint): bigint {
  z = (z + 0x9e3779b97f4a7c15n) & MASK64;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return z ^ (z >> 31n);
}

/** 64-bit hash of a string's UTF-8 bytes (FNV-1a, then mixed). */
export function hashString64(text: string): bigint {
  let h = 0xcbf29ce484222325n;
  for (const byte of new TextEncoder().encode(text)) {
    h = ((h ^ BigInt(byte)) * 0x100000001b3n) & MASK64;
  }
  return mix64(h);
}

/** The three independent random streams of the sampler (METHOD §4). */
export const STREAMS = { x_T: 1, update: 2, target: 3 } as const;
export type StreamName = keyof typeof STREAMS;

/** Who a draw belongs to. */
export interface DrawOwner {
  /** Run seed, an unsigned 64-bit integer. */
  seed: bigint;
  imageId: string;
  sampleIndex: number;
}

/** Philox key of (seed, image id, sample index, stream). */
export function drawKey(owner: DrawOwner, stream: StreamName): [number, number] {
  let k = mix64(BigInt.asUintN(64, owner.seed));
  k = mix64(k ^ hashString64(owner.imageId));
  k = mix64(k ^ BigInt(owner.sampleIndex));
  k = mix64(k ^ BigInt(STREAMS[stream]));
  return [Number(k & 0xffffffffn), Number(k >> 32n)];
}

const TWO_PI = 2 * Math.PI;
const TWO_POW_32 = 4294967296;

/**
 * Fills `out[offset .. offset+length)` with standard normal draws of (owner, stream, step): Box–Muller
 * on 32-bit uniforms, four normals per Philox block, element j from block ⌊j/4⌋.
 */
export function gaussian(
  owner: DrawOwner,
  stream: StreamName,
  step: number,
  out: Float32Array,
  offset = 0,
  length = out.length - offset,
): void {
  const key = drawKey(owner, stream);
  const counter = new Uint32Array([0, 0, step >>> 0, STREAMS[stream]]);
  const words = new Uint32Array(4);
  for (let j = 0; j < length; j += 4) {
    const block = j / 4;
    counter[0] = block >>> 0;
    counter[1] = Math.floor(block / TWO_POW_32);
    philox4x32(counter, key, words);
    for (let pair = 0; pair < 2 && j + 2 * pair < length; pair++) {
      // Open interval (0, 1): log stays finite.
      const u1 = (words[2 * pair]! + 0.5) / TWO_POW_32;
      const u2 = words[2 * pair + 1]! / TWO_POW_32;
      const r = Math.sqrt(-2 * Math.log(u1));
      const theta = TWO_PI * u2;
      const at = offset + j + 2 * pair;
      out[at] = r * Math.cos(theta);
      if (j + 2 * pair + 1 < length) out[at + 1] = r * Math.sin(theta);
    }
  }
}
