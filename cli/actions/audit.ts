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
import { RunFailedError } from '../../engine/errors.ts';
import { describeRun } from '../../runs/catalogue.ts';
import { readRunStatus, writeRunFailure } from '../../runs/status.ts';
import { runLayout } from '../../store/layout.ts';
import { EXIT, exitCodeFor } from '../exit.ts';
import { describeFailure } from '../failures.ts';
import type { FailureContext } from '../failures.ts';
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
  /** Temporal engine: seconds, seconds, attempts (AuditOptions' heartbeatTimeout, shardTimeout, maximumAttempts). */
  heartbeatTimeout?: number;
  shardTimeout?: number;
  shardAttempts?: number;
  json: boolean;
  /** The global --verbose: stacks with failures. */
  verbose?: boolean;
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
  // Ctrl-C (or SIGTERM) stops the run where it is: batches already stored stay, the failure message
  // says what is kept and how to finish. A second signal exits at once.
  const interrupted = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted.signal.aborted) process.exit(130);
    process.stderr.write(`\n${signal}: stopping the run (again to exit at once)\n`);
    interrupted.abort(Object.assign(new Error(`cancelled: interrupted by ${signal}`), { name: 'AbortError' }));
  };
  for (const s of STOP_SIGNALS) process.on(s, onSignal);
  const opts = {
    store,
    loadPair: cachedPairLoader(),
    concurrency,
    signal: interrupted.signal,
    onProgress: (p: { imagesDone: number; imagesTotal: number; shardsDone: number; shardsTotal: number }) =>
      bar.update(p.imagesDone, p.imagesTotal, `images, ${p.shardsDone}/${p.shardsTotal} shards`),
  };
  try {
    return await runLocalAudit(spec, opts);
  } finally {
    for (const s of STOP_SIGNALS) process.off(s, onSignal);
    bar.done();
  }
}

const STOP_SIGNALS = ['SIGINT', 'SIGTERM'] as const;

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

const SHELL_SAFE = /^[A-Za-z0-9_./:=@%+,-]+$/;
const shellWord = (w: string) => (SHELL_SAFE.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`);

/** The exact command that finishes `runId` with the store and engine flags this one was given. */
/** What a failure message needs of the audit's flags to print the command that finishes the run. */
export type ResumeFlags = Pick<AuditArgs, 'engine' | 'taskQueue' | 'samplingQueue' | 'verbose' | 'out'>;

export function resumeCommand(runId: string, args: ResumeFlags, store: string): string {
  const words = ['fiberscope', 'audit', '--resume', runId, '--out', store];
  if (args.engine === 'temporal') {
    words.push('--engine', 'temporal');
    if (args.taskQueue !== undefined) words.push('--task-queue', args.taskQueue);
    if (args.samplingQueue !== undefined) words.push('--sampling-queue', args.samplingQueue);
  }
  return words.map(shellWord).join(' ');
}

/** How long the failure message waits for the store to say what it kept (it may be the thing that is down). */
const KEPT_TIMEOUT_MS = 5000;

/** What `work` gives, or `fallback` once the store has had KEPT_TIMEOUT_MS to answer. */
async function withinStoreTimeout<T>(work: Promise<T>, fallback: T): Promise<T> {
  return await Promise.race([work, new Promise<T>((r) => setTimeout(() => r(fallback), KEPT_TIMEOUT_MS).unref())]);
}

/** Shards finished and, in `shard`, batches finished: what a resume will not sample again. */
async function keptOf(store: ObjectStore, runId: string, shard: string | null): Promise<string> {
  const layout = runLayout(runId);
  const look = async () => {
    const { shardsDone, shardsTotal } = await describeRun(store, runId);
    const batches = shard === null ? 0 : (await store.list(layout.shardParts(shard))).filter((k) => k.endsWith('.json')).length;
    return `${shardsDone} of ${shardsTotal} shards done${shard === null ? '' : `, ${batches} batches of ${shard}`}; nothing written is lost`;
  };
  return await withinStoreTimeout(
    look().catch(() => 'the store could not be read to count what it holds; nothing written is lost'),
    'the store did not answer, so what it holds was not counted; nothing written is lost',
  );
}

/**
 * Where the audit workflow recorded that it stopped (status.json), when that record is this ending's:
 * written after `since` (the execution's start). A cancellation reaches the client bare, so only the
 * workflow knows its phase; the command's last polled progress may lag behind it.
 */
async function recordedPlace(store: ObjectStore, runId: string, since: Date): Promise<{ phase?: string; shard?: string }> {
  const record = await withinStoreTimeout(readRunStatus(store, runId).catch(() => null), null);
  if (record === null || record.state !== 'failed' || record.engine !== 'temporal' || !(Date.parse(record.updatedAt) >= since.getTime())) return {};
  return { ...(record.phase === undefined ? {} : { phase: record.phase }), ...(record.shard === undefined ? {} : { shard: record.shard }) };
}

/**
 * Reports a run that stopped before its summary: one message with where and why, what is kept and
 * the command that finishes it, recorded in the run's status.json too (when the store still answers).
 * Failures before a run exists go the plain way. Returns the exit code.
 */
export async function reportRunFailure(
  err: unknown,
  store: ObjectStore,
  args: ResumeFlags,
  extra: { runId?: string; engine: 'local' | 'temporal'; workflowId?: string; phase?: string; recordedSince?: Date },
): Promise<number> {
  const plain = describeFailure(err);
  const runId = plain.runId ?? extra.runId;
  // A run that failed while being prepared may not exist: then there is nothing to finish.
  const exists = async (id: string) => plain.kind === 'storage-unreachable' || (await store.exists(runLayout(id).manifest).catch(() => true));
  if (runId === undefined || !(await exists(runId))) {
    return exitCodeFor(err, { verbose: args.verbose ?? false });
  }
  const recorded = extra.recordedSince === undefined || plain.phase !== null ? {} : await recordedPlace(store, runId, extra.recordedSince);
  const phase = recorded.phase ?? extra.phase;
  const context: FailureContext = {
    runId,
    ...(phase === undefined ? {} : { phase }),
    ...(recorded.shard === undefined ? {} : { shard: recorded.shard }),
    // The shard the message names: the error's, else the workflow's record of it.
    kept: await keptOf(store, runId, plain.shard ?? recorded.shard ?? null),
    resume: resumeCommand(runId, args, args.out),
  };
  const failure = describeFailure(err, context);
  // Only the workflow knows how an audit this command lost contact with is doing: its record stays.
  if (failure.kind === 'temporal-unreachable') return exitCodeFor(err, { verbose: args.verbose ?? false, context });
  const put = writeRunFailure(store, runId, {
    engine: extra.engine,
    workflowId: extra.workflowId,
    phase: failure.phase,
    shard: failure.shard,
    kind: failure.kind,
    message: failure.cause,
  }).catch(() => undefined);
  await withinStoreTimeout(put, undefined);
  return exitCodeFor(err, { verbose: args.verbose ?? false, context });
}

export async function runAudit(args: AuditArgs): Promise<number> {
  if (args.engine === 'temporal') return await (await import('./audit-temporal.ts')).auditOnTemporal(args);
  const store = openStore(args.out);
  let result: LocalAuditResult;
  try {
    result = await auditLocally(args, store);
  } catch (err) {
    if (!(err instanceof RunFailedError)) throw err;
    return await reportRunFailure(err, store, args, { engine: 'local' });
  }
  if (args.json) process.stdout.write(JSON.stringify(result.summary) + '\n');
  else process.stdout.write(describeSummary(result.summary, store.location, result.reportKey) + '\n');
  return EXIT.ok;
}
