/** The guidance strength γ(t) and the inner learning-rate decay (METHOD §4). */
import { InputError } from '../errors.ts';

/**
 * One piece of γ(t): active for tEnd ≤ t ≤ tStart, going from `start` at tStart to `end` at tEnd.
 * `shape` is cosine (the method's) unless `linear` is asked for (e.g. the flow setting γ = 2t).
 */
export interface GammaAnchor {
  start: number;
  end: number;
  tStart: number;
  tEnd: number;
  shape?: 'cosine' | 'linear';
}

/** γ(t) from the first anchor containing t; 0 (an unguided step) when none does. */
export function gammaAt(anchors: readonly GammaAnchor[], t: number): number {
  for (const a of anchors) {
    if (a.tEnd <= t && t <= a.tStart) {
      if (a.tStart === a.tEnd) return a.start;
      const frac = (a.tStart - t) / (a.tStart - a.tEnd);
      if (a.shape === 'linear') return a.start + (a.end - a.start) * frac;
      return a.end + 0.5 * (a.start - a.end) * (1 + Math.cos(Math.PI * frac));
    }
  }
  return 0;
}

/** lr_i = u_lr·(1 − i/n), i = 0 at the noisiest step. */
export function learningRateAt(baseLr: number, i: number, steps: number): number {
  return baseLr * (1 - i / steps);
}

export function validateAnchors(anchors: unknown, input = 'gamma'): GammaAnchor[] {
  if (!Array.isArray(anchors)) throw new InputError(input, 'expected an array of {start, end, tStart, tEnd} anchors');
  return anchors.map((a: unknown, j) => {
    const at = `${input}[${j}]`;
    if (typeof a !== 'object' || a === null) throw new InputError(at, 'expected {start, end, tStart, tEnd}');
    const r = a as Record<string, unknown>;
    for (const f of ['start', 'end', 'tStart', 'tEnd']) {
      if (typeof r[f] !== 'number' || !Number.isFinite(r[f]))
        throw new InputError(`${at}.${f}`, `expected a finite number, got ${String(r[f])}`);
    }
    if ((r.tEnd as number) > (r.tStart as number)) throw new InputError(`${at}.tEnd`, 'expected tEnd ≤ tStart');
    if ((r.start as number) < 0 || (r.end as number) < 0) throw new InputError(`${at}`, 'expected γ ≥ 0');
    if (r.shape !== undefined && r.shape !== 'cosine' && r.shape !== 'linear') {
      throw new InputError(`${at}.shape`, `expected cosine or linear, got ${String(r.shape)}`);
    }
    const anchor: GammaAnchor = {
      start: r.start as number,
      end: r.end as number,
      tStart: r.tStart as number,
      tEnd: r.tEnd as number,
    };
    if (r.shape !== undefined) anchor.shape = r.shape as 'cosine' | 'linear';
    return anchor;
  });
}
