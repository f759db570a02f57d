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

/** High and low 32 bits of a 32×32-bit product; split in 16-bit halves so doubles stay exact. */
function mulhilo(a: number, b: number, out: Uint32Array, hiIndex: number, loIndex: number): void {
  const bl = b & 0xffff;
  const bh = b >>> 16;
  const p1 = a * bl;
  const p2 = a * bh;
  const mid = (p2 % 65536) * 65536 + p1;
  out[hiIndex] = Math.floor(p2 / 65536) + Math.floor(mid / 4294967296);
  out[loIndex] = Math.imul(a, b);
}

const scratch = new Uint32Array(4);

/** Philox4x32 with 10 rounds; writes the 4 output words into `out`. */
export function philox4x32(counter: ArrayLike<number>, key: readonly [number, number], out: Uint32Array): void {
  let c0 = counter[0]! >>> 0;
  let c1 = counter[1]! >>> 0;
  let c2 = counter[2]! >>> 0;
  let c3 = counter[3]! >>> 0;
  let k0 = key[0] >>> 0;
  let k1 = key[1] >>> 0;
  for (let round = 0; round < 10; round++) {
    mulhilo(M0, c0, scratch, 0, 1);
    mulhilo(M1, c2, scratch, 2, 3);
    const hi0 = scratch[0]!;
    const lo0 = scratch[1]!;
    const hi1 = scratch[2]!;
    const lo1 = scratch[3]!;
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
const TWO_POW_26 = 67108864;
const TWO_POW_53 = 9007199254740992;

/**
 * Fills `out[offset .. offset+length)` with standard normal draws of (owner, stream, step):
 * Box–Muller on 53-bit uniforms, two normals per Philox block, element j from block ⌊j/2⌋.
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
  for (let j = 0; j < length; j += 2) {
    const block = j / 2;
    counter[0] = block >>> 0;
    counter[1] = Math.floor(block / 4294967296);
    philox4x32(counter, key, words);
    // Open interval (0, 1): log stays finite.
    const u1 = ((words[0]! >>> 5) * TWO_POW_26 + (words[1]! >>> 6) + 0.5) / TWO_POW_53;
    const u2 = ((words[2]! >>> 5) * TWO_POW_26 + (words[3]! >>> 6)) / TWO_POW_53;
    const r = Math.sqrt(-2 * Math.log(u1));
    const theta = TWO_PI * u2;
    out[offset + j] = r * Math.cos(theta);
    if (j + 1 < length) out[offset + j + 1] = r * Math.sin(theta);
  }
}
