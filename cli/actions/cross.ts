import { crossEmbed } from '../../activities/cross.ts';
import type { CrossSummary } from '../../runs/cross.ts';
import { cachedPairLoader } from '../../activities/pairs.ts';
import { resolveRun } from '../../runs/catalogue.ts';
import { EXIT } from '../exit.ts';

export interface CrossArgs {
  run: string;
  extractor: string;
  store: string;
  provider: string;
  json: boolean;
}

const num = (v: number | null) => (v === null ? '–' : Math.abs(v) >= 1000 ? v.toFixed(0) : v.toPrecision(3));

/** What a person reads: the second model's metric on the first model's fibers against its own baseline. */
export function describeCross(s: CrossSummary, location: string): string {
  return [
    `Cross-model agreement for run ${s.runId}: fibers of ${s.fibersOf.id}, embedded by ${s.extractor.id}`,
    `  ${s.images} images, ${s.samples} samples`,
    `  ${s.extractor.id} ${s.fiberMetricName} on the fibers: median ${num(s.overall.fiberMetricMedian)}`,
    `  its nearest-real-neighbour baseline: median ${num(s.overall.nnBaselineMedian)}`,
    `  ratio of the two: median ${num(s.overall.ratioMedian)} (below 1: on the fiber for the second model too)`,
    `  ${s.extractor.id} puts ${s.overall.shareBelowBaseline === null ? '–' : (100 * s.overall.shareBelowBaseline).toFixed(0)}% of ${s.fibersOf.id}'s fiber samples closer to their query than any other real image` +
      (s.overall.ratioMedian === null ? '' : s.overall.ratioMedian < 1 ? ' (it largely shares what that model ignores)' : ' (it sees much of what that model ignores)'),
    ...s.byProbe
      .filter((p) => p.probe !== 'none')
      .map((p) => `  samples nearest ${p.probe}: ${p.samples}, ratio median ${num(p.ratioMedian)}, ${p.shareBelowBaseline === null ? '–' : (100 * p.shareBelowBaseline).toFixed(0)}% below 1`),
    `  worst images: ${s.perImage.slice(0, 5).map((p) => `${p.imageId} (${num(p.ratioMedian)})`).join(', ')}`,
    `  tables: ${location}`,
  ].join('\n');
}

export async function runCross(args: CrossArgs): Promise<number> {
  const { store, runId } = resolveRun(args.run, args.store, '--run');
  const loadPair = cachedPairLoader();
  const result = await crossEmbed({ store, loadPair: (config) => loadPair({ ...config, provider: args.provider }) }, runId, args.extractor);
  process.stdout.write(args.json ? JSON.stringify(result.summary) + '\n' : describeCross(result.summary, `${store.location}/${result.tableKey}`) + '\n');
  return EXIT.ok;
}
