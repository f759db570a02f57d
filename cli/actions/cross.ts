import { crossEmbed } from '../../activities/cross.ts';
import type { CrossSummary } from '../../activities/cross.ts';
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
  const shares = s.overall.ratioMedian !== null && s.overall.ratioMedian < 1;
  return [
    `Cross-model agreement for run ${s.runId}: fibers of ${s.fibersOf.id}, embedded by ${s.extractor.id}`,
    `  ${s.images} images, ${s.samples} samples`,
    `  ${s.extractor.id} ${s.fiberMetricName} on the fibers: median ${num(s.overall.fiberMetricMedian)}`,
    `  its nearest-real-neighbour baseline: median ${num(s.overall.nnBaselineMedian)}`,
    `  ratio (median ${num(s.overall.ratioMedian)}; ${s.overall.shareBelowBaseline === null ? '–' : (100 * s.overall.shareBelowBaseline).toFixed(0)}% of samples below 1)`,
    shares
      ? `  ${s.extractor.id} keeps the fiber: it shares what ${s.fibersOf.id} ignores.`
      : `  ${s.extractor.id} does not keep the fiber: it sees what ${s.fibersOf.id} ignores.`,
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
