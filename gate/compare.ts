import { InputError } from '../engine/errors.ts';
import { parseRunConfig } from '../runs/manifest.ts';
import type { RunConfig } from '../runs/manifest.ts';
import { fiberToNeighbourRatio } from '../runs/summary.ts';
import { readImageRows } from '../store/image-tables.ts';
import { runLayout } from '../store/layout.ts';
import { ObjectNotFoundError } from '../store/objects.ts';
import type { ObjectStore } from '../store/objects.ts';
import { readSampleRows } from '../store/tables.ts';
import { holm, mean, median, signedRankTest } from './stats.ts';
import { GATE_DEFAULTS } from './verdict.ts';
import type { Direction, Finding, GateOptions, GateVerdict, WorstImage } from './verdict.ts';

/** What the gate reads of one image of a run. */
export interface GateImage {
  /** fiber_metric_mean / nn_baseline: scale-free, so two models' runs compare. */
  ratio: number | null;
  /** Nearest-probe profile over the image's ok samples (probe or `none` → share). */
  shares: Record<string, number>;
  okSamples: number;
  errorShare: number;
  sampleKeys: string[];
}

export interface GateRun {
  config: RunConfig;
  store: ObjectStore;
  images: Map<string, GateImage>;
}

export const RATIO_METRIC = 'fiber_to_neighbour_ratio';
export const ERROR_METRIC = 'error_share';

/** Reads a finished run's per-image rows and sample rows; an InputError naming `input` when it is not finished. */
export async function loadGateRun(store: ObjectStore, runId: string, input: string): Promise<GateRun> {
  const layout = runLayout(runId);
  const read = async (key: string, what: string) => {
    try {
      return await store.get(key);
    } catch (err) {
      if (err instanceof ObjectNotFoundError) throw new InputError(input, `run '${runId}' in ${store.location} has no ${what}`, { cause: err });
      throw err;
    }
  };
  const config = parseRunConfig(await read(layout.manifest, 'manifest (not a run)'), `${store.location}/${layout.manifest}`);
  const summary = readImageRows(await read(layout.summary, 'summary.arrow (not finished: resume it or run `fiberscope report`)'), layout.summary);
  const images = new Map<string, GateImage>();
  for (const row of summary) {
    images.set(row.image_id, { ratio: fiberToNeighbourRatio(row), shares: {}, okSamples: 0, errorShare: row.status === 'error' ? 1 : 0, sampleKeys: [] });
  }
  const counts = new Map<string, { ok: number; error: number; nearest: Map<string, number> }>();
  for (const { shard } of config.shards) {
    for (const r of readSampleRows(await read(layout.shardTable(shard), `shard table ${shard}`), layout.shardTable(shard))) {
      const c = counts.get(r.image_id) ?? { ok: 0, error: 0, nearest: new Map<string, number>() };
      counts.set(r.image_id, c);
      if (r.status === 'error') c.error += 1;
      else {
        c.ok += 1;
        if (r.nearest_probe !== null) c.nearest.set(r.nearest_probe, (c.nearest.get(r.nearest_probe) ?? 0) + 1);
      }
      if (r.image_key !== null) images.get(r.image_id)?.sampleKeys.push(r.image_key);
    }
  }
  for (const [id, c] of counts) {
    const image = images.get(id);
    if (image === undefined) continue;
    image.okSamples = c.ok;
    image.errorShare = c.error / (c.ok + c.error);
    for (const [probe, n] of c.nearest) image.shares[probe] = n / c.ok;
  }
  return { config, store, images };
}

/** Sampler settings that must agree for two runs to be compared; the seed may differ. */
function samplerDifferences(a: RunConfig, b: RunConfig): string[] {
  const { seed: _a, ...sa } = a.sampler;
  const { seed: _b, ...sb } = b.sampler;
  const keys = [...new Set([...Object.keys(sa), ...Object.keys(sb)])].sort();
  const diffs = keys.filter((k) => JSON.stringify((sa as Record<string, unknown>)[k]) !== JSON.stringify((sb as Record<string, unknown>)[k]));
  const out = diffs.map((k) => `${k} ${JSON.stringify((sa as Record<string, unknown>)[k])} vs ${JSON.stringify((sb as Record<string, unknown>)[k])}`);
  if (a.samplesPerImage !== b.samplesPerImage) out.push(`samples per image ${a.samplesPerImage} vs ${b.samplesPerImage}`);
  return out;
}

/** Refuses runs that cannot be compared, saying which input and what differs. */
export function checkComparable(baseline: GateRun, candidate: GateRun): string[] {
  const a = baseline.config;
  const b = candidate.config;
  const onlyA = a.probes.filter((p) => !b.probes.includes(p));
  const onlyB = b.probes.filter((p) => !a.probes.includes(p));
  if (onlyA.length > 0 || onlyB.length > 0) {
    throw new InputError(
      'candidate',
      `run '${b.runId}' has other probes than baseline '${a.runId}' (${[...onlyA.map((p) => `${p} only in the baseline`), ...onlyB.map((p) => `${p} only in the candidate`)].join(', ')}); audit it with --probes ${a.probes.join(',')}`,
    );
  }
  const diffs = samplerDifferences(a, b);
  if (diffs.length > 0) {
    throw new InputError('candidate', `run '${b.runId}' was sampled with other settings than baseline '${a.runId}' (baseline vs candidate: ${diffs.join('; ')})`);
  }
  if (JSON.stringify(a.prior.fingerprints) !== JSON.stringify(b.prior.fingerprints)) {
    throw new InputError('candidate', `run '${b.runId}' used another prior (${b.prior.id}) than baseline '${a.runId}' (${a.prior.id}): fibers under different priors do not compare`);
  }
  const shared = [...baseline.images.keys()].filter((id) => candidate.images.has(id)).sort();
  if (shared.length === 0) {
    throw new InputError('candidate', `run '${b.runId}' shares no images with baseline '${a.runId}' (image ids of ${a.dataset} vs ${b.dataset}); audit the candidate on the baseline's dataset`);
  }
  return shared;
}

function totalVariation(a: Record<string, number>, b: Record<string, number>): number {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  let s = 0;
  for (const k of keys) s += Math.abs((a[k] ?? 0) - (b[k] ?? 0));
  return s / 2;
}

const pct = (x: number) => `${(100 * x).toFixed(0)}%`;

interface Draft extends Omit<Finding, 'adjustedP' | 'regression' | 'direction' | 'message'> {
  threshold: number;
}

/**
 * Compares a candidate run with a baseline on the images both share, paired by image id: per probe
 * the share of each image's samples nearest to it, the fiber-to-neighbour ratio (on a log scale, so
 * the change is relative) and the error share, each by a signed-rank test over images, Holm-adjusted
 * across all of them. A finding fails the gate when its adjusted p-value is below α and its effect
 * reaches the minimum effect size.
 */
export function compareRuns(baseline: GateRun, candidate: GateRun, opts: GateOptions = GATE_DEFAULTS, now = new Date()): GateVerdict {
  const shared = checkComparable(baseline, candidate);
  const pairs = shared.map((id) => [id, baseline.images.get(id)!, candidate.images.get(id)!] as const);
  const drafts: Draft[] = [];

  const sampled = pairs.filter(([, a, b]) => a.okSamples > 0 && b.okSamples > 0);
  for (const probe of baseline.config.probes) {
    const base = sampled.map(([, a]) => a.shares[probe] ?? 0);
    const cand = sampled.map(([, , b]) => b.shares[probe] ?? 0);
    const test = signedRankTest(cand.map((c, i) => c - base[i]!));
    drafts.push({ kind: 'probe', name: probe, baseline: mean(base), candidate: mean(cand), effect: mean(cand) - mean(base), pValue: test.pValue, pairs: test.n, threshold: opts.minEffect });
  }

  const withRatio = pairs.filter(([, a, b]) => a.ratio !== null && b.ratio !== null && a.ratio > 0 && b.ratio > 0);
  if (withRatio.length > 0) {
    const logs = withRatio.map(([, a, b]) => Math.log(b.ratio!) - Math.log(a.ratio!));
    const test = signedRankTest(logs);
    drafts.push({
      kind: 'metric',
      name: RATIO_METRIC,
      baseline: median(withRatio.map(([, a]) => a.ratio!)),
      candidate: median(withRatio.map(([, , b]) => b.ratio!)),
      effect: Math.exp(median(logs)) - 1,
      pValue: test.pValue,
      pairs: test.n,
      threshold: opts.minRatioChange,
    });
  }

  const baseErr = pairs.map(([, a]) => a.errorShare);
  const candErr = pairs.map(([, , b]) => b.errorShare);
  const errTest = signedRankTest(candErr.map((c, i) => c - baseErr[i]!));
  drafts.push({ kind: 'errors', name: ERROR_METRIC, baseline: mean(baseErr), candidate: mean(candErr), effect: mean(candErr) - mean(baseErr), pValue: errTest.pValue, pairs: errTest.n, threshold: opts.minEffect });

  const adjusted = holm(drafts.map((d) => d.pValue));
  const findings: Finding[] = drafts.map(({ threshold, ...d }, i) => {
    const adjustedP = adjusted[i]!;
    const significant = adjustedP < opts.alpha;
    const large = Math.abs(d.effect) >= threshold;
    const regression = significant && large;
    const rising = d.effect > 0;
    const direction: Direction = !regression ? 'same' : d.kind === 'probe' ? (rising ? 'started' : 'stopped') : rising ? 'up' : 'down';
    const p = `p=${d.pValue.toPrecision(2)}, adjusted ${adjustedP.toPrecision(2)}, ${d.pairs} images differ`;
    let message: string;
    if (d.kind === 'probe') {
      const what = direction === 'started' ? 'started firing (the candidate gained this invariance)' : direction === 'stopped' ? 'stopped firing (the candidate lost this invariance)' : 'unchanged';
      message = `${d.name} ${what}: nearest for ${pct(d.baseline)} of samples in the baseline, ${pct(d.candidate)} in the candidate (${p})`;
    } else if (d.kind === 'metric') {
      message = `fiber metric / nearest-real-neighbour baseline ${regression ? (rising ? 'rose' : 'fell') : 'unchanged'}: median ${d.baseline.toPrecision(3)} → ${d.candidate.toPrecision(3)}, ${d.effect >= 0 ? '+' : ''}${pct(d.effect)} per image (${p})`;
    } else {
      message = `error share ${regression ? (rising ? 'rose' : 'fell') : 'unchanged'}: ${pct(d.baseline)} → ${pct(d.candidate)} of samples (${p})`;
    }
    if (!regression && significant) message += `; below the minimum effect ${threshold}`;
    return { ...d, adjustedP, regression, direction, message };
  });

  const worstImages: WorstImage[] = sampled
    .map(([imageId, a, b]) => ({
      imageId,
      change: totalVariation(a.shares, b.shares),
      baselineProfile: a.shares,
      candidateProfile: b.shares,
      baselineImages: a.sampleKeys,
      candidateImages: b.sampleKeys,
    }))
    .filter((w) => w.change > 0)
    .sort((x, y) => y.change - x.change || x.imageId.localeCompare(y.imageId))
    .slice(0, opts.worst);

  const ref = (run: GateRun) => ({
    runId: run.config.runId,
    extractor: run.config.extractor.id,
    location: `${run.store.location}/${runLayout(run.config.runId).base}`,
    store: run.store.location,
    seed: run.config.sampler.seed,
  });
  return {
    version: 1,
    verdict: findings.some((f) => f.regression) ? 'regression' : 'pass',
    baseline: ref(baseline),
    candidate: ref(candidate),
    createdAt: now.toISOString(),
    images: shared.length,
    alpha: opts.alpha,
    minEffect: opts.minEffect,
    minRatioChange: opts.minRatioChange,
    findings,
    worstImages,
  };
}

/** Compares and records the verdict as gate.json in the candidate run (shared by `check` and scheduled audits). */
export async function gateRuns(baseline: GateRun, candidate: GateRun, opts: GateOptions = GATE_DEFAULTS): Promise<GateVerdict> {
  const verdict = compareRuns(baseline, candidate, opts);
  await candidate.store.put(runLayout(candidate.config.runId).gate, JSON.stringify(verdict, null, 2), 'application/json');
  return verdict;
}
