import { runLocalAudit } from '../../activities/local-engine.ts';
import type { LocalAuditResult } from '../../activities/local-engine.ts';
import { cachedPairLoader } from '../../activities/pairs.ts';
import type { NewRun } from '../../activities/run.ts';
import type { RunSummary } from '../../runs/summary.ts';
import { priorInfo } from '../../engine/priors/bundle.ts';
import { loadExtractorBundle, loadPriorBundle } from '../../engine/priors/load.ts';
import { localBundle } from '../../store/bundles.ts';
import { openStore } from '../../store/objects.ts';
import type { ObjectStore } from '../../store/objects.ts';
import { EXIT } from '../exit.ts';
import { progressBar } from '../progress.ts';
import { probesFromArgs, samplerOptionsFromArgs, samplesPerImage } from '../sampler-options.ts';
import type { SamplerArgs } from '../sampler-options.ts';

export interface AuditArgs extends SamplerArgs {
  dataset?: string;
  prior?: string;
  extractor?: string;
  out: string;
  runId?: string;
  resume?: string;
  engine: string;
  batchImages: number;
  shardSize: number;
  concurrency: number;
  limit?: number;
  reference?: string;
  resizeQueries: boolean;
  /** Temporal engine only (the demo builds AuditArgs without them). */
  window?: number;
  detach?: boolean;
  /** Attach to the running audit of this run id (temporal engine). */
  follow?: string;
  taskQueue?: string;
  samplingQueue?: string;
  json: boolean;
}

/** The run the flags describe; bundles and options are validated here, before any run folder exists. */
export async function newRunFromArgs(args: AuditArgs): Promise<NewRun> {
  const [priorDir, extractorDir] = await Promise.all([localBundle(args.prior!), localBundle(args.extractor!)]);
  const [prior] = await Promise.all([loadPriorBundle(priorDir), loadExtractorBundle(extractorDir)]);
  return {
    ...(args.runId !== undefined ? { runId: args.runId } : {}),
    ...(args.limit !== undefined ? { limit: args.limit } : {}),
    ...(args.reference !== undefined ? { reference: args.reference } : {}),
    dataset: args.dataset!,
    prior: args.prior!,
    extractor: args.extractor!,
    samplesPerImage: samplesPerImage(args),
    sampler: samplerOptionsFromArgs(args, priorInfo(prior.manifest)),
    preset: args.preset ?? null,
    probes: probesFromArgs(args),
    batchImages: args.batchImages,
    shardSize: args.shardSize,
    resizeQueries: args.resizeQueries || prior.manifest.image.resize,
    provider: args.provider ?? 'cpu',
  };
}

/** Runs an audit on the local engine and returns its result; shared by `audit` and `demo`. */
export async function auditLocally(args: AuditArgs, store: ObjectStore, label = 'auditing'): Promise<LocalAuditResult> {
  return await auditSpecLocally(args.resume !== undefined ? { resume: args.resume } : await newRunFromArgs(args), store, { concurrency: args.concurrency, quiet: args.json }, label);
}

/** Runs a described run on the local engine with a progress bar on a terminal (`check --extractor` builds the spec itself). */
export async function auditSpecLocally(
  spec: NewRun | { resume: string },
  store: ObjectStore,
  { concurrency, quiet }: { concurrency: number; quiet: boolean },
  label = 'auditing',
): Promise<LocalAuditResult> {
  const bar = progressBar(label, !quiet && Boolean(process.stderr.isTTY));
  const opts = {
    store,
    loadPair: cachedPairLoader(),
    concurrency,
    onProgress: (p: { imagesDone: number; imagesTotal: number; shardsDone: number; shardsTotal: number }) =>
      bar.update(p.imagesDone, p.imagesTotal, `images, ${p.shardsDone}/${p.shardsTotal} shards`),
  };
  const result = await runLocalAudit(spec, opts);
  bar.done();
  return result;
}

export function describeSummary(s: RunSummary, location: string, reportKey: string): string {
  const probes = s.probes
    .filter((p) => p.sampleRate > 0)
    .slice(0, 6)
    .map((p) => `${p.probe} ${(100 * p.sampleRate).toFixed(0)}% of samples / ${(100 * p.imageRate).toFixed(0)}% of images`)
    .join('\n    ');
  const f = s.fiberMetric;
  return [
    `run ${s.runId}: prior ${s.prior}, extractor ${s.extractor}, variant ${s.variant}`,
    `  images ${s.images.ok}/${s.images.total} ok, samples ${s.samples.ok}/${s.samples.total} ok`,
    `  fiber metric (${s.fiberMetricName}) median ${f.median?.toPrecision(4) ?? '–'} vs nearest real neighbour ${s.nnBaseline.median?.toPrecision(4) ?? '–'}`,
    `  nearest probe:\n    ${probes || 'none'}`,
    `  report: ${location.replace(/\/$/, '')}/${reportKey}`,
  ].join('\n');
}

export async function runAudit(args: AuditArgs): Promise<number> {
  if (args.engine === 'temporal') return await (await import('./audit-temporal.ts')).auditOnTemporal(args);
  const store = openStore(args.out);
  const result = await auditLocally(args, store);
  if (args.json) process.stdout.write(JSON.stringify(result.summary) + '\n');
  else process.stdout.write(describeSummary(result.summary, store.location, result.reportKey) + '\n');
  return EXIT.ok;
}
