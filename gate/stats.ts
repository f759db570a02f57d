/**
 * The gate's statistics: a paired test over images and a correction for testing several probes
 * and metrics at once. Pure functions, no I/O.
 */

export interface SignedRankResult {
  /** Pairs with a non-zero difference (zeros carry no sign and are dropped, as Wilcoxon does). */
  n: number;
  /** Sum of the ranks of the positive differences. */
  wPlus: number;
  /** Two-sided p-value. */
  pValue: number;
  /** `exact`: the sign-flip distribution of the ranks (ties averaged); `normal`: its approximation. */
  method: 'exact' | 'normal';
}

/** Above this many non-zero pairs the normal approximation is used (it is then within ~1e-3). */
const EXACT_LIMIT = 200;

/** |d| below this is a zero difference (rates are fractions of a few samples; ratios are logs). */
const ZERO = 1e-12;

/** Average ranks (1-based) of `xs`, ties sharing the mean of their positions. */
export function averageRanks(xs: readonly number[]): number[] {
  const order = xs.map((x, i) => [x, i] as const).sort((a, b) => a[0] - b[0]);
  const ranks = new Array<number>(xs.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && order[j + 1]![0] - order[i]![0] <= ZERO) j++;
    for (let k = i; k <= j; k++) ranks[order[k]![1]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return ranks;
}

function normalCdf(z: number): number {
  // Abramowitz & Stegun 7.1.26 on erf, absolute error below 1.5e-7.
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erf = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return z >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}

/**
 * Wilcoxon signed-rank test of paired differences (candidate − baseline per image), two-sided.
 * Exact under the null that each difference's sign is a fair coin given its magnitude (the
 * sign-flip distribution of the tie-averaged ranks, counted on doubled ranks so they are integers);
 * the normal approximation with tie correction and continuity correction for larger samples.
 */
export function signedRankTest(differences: readonly number[]): SignedRankResult {
  const nonZero = differences.filter((d) => Number.isFinite(d) && Math.abs(d) > ZERO);
  const n = nonZero.length;
  if (n === 0) return { n, wPlus: 0, pValue: 1, method: 'exact' };
  const ranks = averageRanks(nonZero.map(Math.abs));
  const wPlus = nonZero.reduce((s, d, i) => (d > 0 ? s + ranks[i]! : s), 0);
  const mean = (n * (n + 1)) / 4;
  if (n <= EXACT_LIMIT) {
    const doubled = ranks.map((r) => Math.round(2 * r));
    const total = doubled.reduce((a, b) => a + b, 0);
    // counts[s]: sign assignments whose positive doubled ranks sum to s, as probabilities.
    let counts = new Float64Array(total + 1);
    counts[0] = 1;
    for (const r of doubled) {
      const next = new Float64Array(total + 1);
      for (let s = 0; s + r <= total; s++) {
        const c = counts[s]!;
        if (c === 0) continue;
        next[s] = next[s]! + c / 2;
        next[s + r] = next[s + r]! + c / 2;
      }
      for (let s = total - r + 1; s <= total; s++) next[s] = next[s]! + counts[s]! / 2;
      counts = next;
    }
    // Two-sided: every assignment at least as far from the centre as the one observed.
    const observed = Math.abs(2 * wPlus - 2 * mean);
    let p = 0;
    for (let s = 0; s <= total; s++) if (Math.abs(s - total / 2) >= observed - 1e-9) p += counts[s]!;
    return { n, wPlus, pValue: Math.min(1, p), method: 'exact' };
  }
  const tieGroups = new Map<number, number>();
  for (const r of ranks) tieGroups.set(r, (tieGroups.get(r) ?? 0) + 1);
  const tieTerm = [...tieGroups.values()].reduce((s, t) => s + (t * t * t - t), 0) / 48;
  const variance = (n * (n + 1) * (2 * n + 1)) / 24 - tieTerm;
  if (variance <= 0) return { n, wPlus, pValue: 1, method: 'normal' };
  const z = Math.max(0, Math.abs(wPlus - mean) - 0.5) / Math.sqrt(variance);
  return { n, wPlus, pValue: Math.min(1, 2 * (1 - normalCdf(z))), method: 'normal' };
}

/** Holm's step-down adjustment: controls the chance of any false finding across the family at α. */
export function holm(pValues: readonly number[]): number[] {
  const m = pValues.length;
  const order = pValues.map((p, i) => [p, i] as const).sort((a, b) => a[0] - b[0]);
  const adjusted = new Array<number>(m);
  let running = 0;
  order.forEach(([p, i], j) => {
    running = Math.max(running, Math.min(1, (m - j) * p));
    adjusted[i] = running;
  });
  return adjusted;
}

export const mean = (xs: readonly number[]) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const h = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}
