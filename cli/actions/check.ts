import { writeFile } from 'node:fs/promises';
import { newRunOf } from '../../activities/control.ts';
import type { RunRequest } from '../../activities/control.ts';
import { newRunId } from '../../activities/run.ts';
import { InputError } from '../../engine/errors.ts';
import { loadExtractorBundle } from '../../engine/priors/load.ts';
import { gateRuns, loadGateRun } from '../../gate/compare.ts';
import type { GateRun } from '../../gate/compare.ts';
import { renderText, renderVerdict } from '../../gate/render.ts';
import type { GateFormat } from '../../gate/render.ts';
import { resolveRun } from '../../runs/catalogue.ts';
import type { RunConfig } from '../../runs/manifest.ts';
import { localBundle } from '../../store/bundles.ts';
import { openStore } from '../../store/objects.ts';
import type { ObjectStore } from '../../store/objects.ts';
import { EXIT } from '../exit.ts';
import { auditSpecLocally } from './audit.ts';

export interface CheckArgs {
  baseline: string;
  candidate?: string;
  extractor?: string;
  store: string;
  format: GateFormat;
  out?: string;
  alpha: number;
  minEffect: number;
  minRatioChange: number;
  worst: number;
  candidateStore?: string;
  runId?: string;
  engine: 'local' | 'temporal';
  concurrency: number;
  provider?: string;
  window?: number;
  taskQueue?: string;
  samplingQueue?: string;
}

function checkOptions(args: CheckArgs) {
  if (!(args.alpha > 0 && args.alpha < 1)) throw new InputError('alpha', `expected a significance level between 0 and 1, got ${args.alpha}`);
  if (!(args.minEffect >= 0 && args.minEffect <= 1)) throw new InputError('min-effect', `expected a share between 0 and 1, got ${args.minEffect}`);
  if (!(args.minRatioChange >= 0)) throw new InputError('min-ratio-change', `expected a non-negative relative change, got ${args.minRatioChange}`);
  if (!Number.isInteger(args.worst) || args.worst < 0) throw new InputError('worst', `expected a non-negative integer, got ${args.worst}`);
  if ((args.candidate === undefined) === (args.extractor === undefined)) {
    throw new InputError('candidate', 'give either --candidate RUN (a finished run) or --extractor BUNDLE (audit it on the baseline first)');
  }
  return { alpha: args.alpha, minEffect: args.minEffect, minRatioChange: args.minRatioChange, worst: args.worst };
}

/** The audit the baseline describes, with another extractor: same images, prior, seed, sampler settings, probes and shards. */
export function candidateRequest(baseline: RunConfig, extractor: string, runId: string, provider?: string): RunRequest {
  const first = baseline.shards[0];
  return {
    runId,
    dataset: baseline.dataset,
    prior: baseline.prior.path,
    extractor,
    samplesPerImage: baseline.samplesPerImage,
    sampler: baseline.sampler,
    preset: baseline.preset,
    probes: baseline.probes,
    batchImages: baseline.batchImages,
    shardSize: first === undefined ? 1 : first.end - first.start,
    resizeQueries: baseline.resizeQueries,
    provider: provider ?? baseline.provider,
    limit: baseline.imageCount,
    ...(baseline.reference === null ? {} : { reference: baseline.reference }),
  };
}

async function auditCandidate(args: CheckArgs, baseline: GateRun): Promise<{ store: ObjectStore; runId: string }> {
  const extractor = args.extractor!;
  // A bad bundle is refused before any run folder exists.
  await loadExtractorBundle(await localBundle(extractor));
  const store = args.candidateStore === undefined ? baseline.store : openStore(args.candidateStore);
  const runId = args.runId ?? newRunId();
  const request = candidateRequest(baseline.config, extractor, runId, args.provider);
  process.stderr.write(`auditing ${extractor} on the ${baseline.config.imageCount} images of baseline ${baseline.config.runId} as run ${runId}\n`);
  if (args.engine === 'temporal') {
    const { submitAudit } = await import('./audit-temporal.ts');
    const code = await submitAudit(runId, request, store, { ...args, detach: false, json: args.format !== 'text' });
    if (code !== EXIT.ok) return Promise.reject(new Error(`the candidate audit ${runId} ended with exit code ${code}`));
  } else {
    await auditSpecLocally(newRunOf(request), store, { concurrency: args.concurrency, quiet: false }, 'candidate');
  }
  return { store, runId };
}

/** `fiberscope check`: exit 0 pass, 1 regression, 2 runs that cannot be compared. */
export async function runCheck(args: CheckArgs, stdout: NodeJS.WritableStream = process.stdout): Promise<number> {
  const opts = checkOptions(args);
  const b = resolveRun(args.baseline, args.store, 'baseline');
  const baseline = await loadGateRun(b.store, b.runId, 'baseline');
  const c = args.candidate !== undefined ? resolveRun(args.candidate, args.store, 'candidate') : await auditCandidate(args, baseline);
  const candidate = await loadGateRun(c.store, c.runId, 'candidate');
  const verdict = await gateRuns(baseline, candidate, opts);
  if (args.out !== undefined) {
    await writeFile(args.out, renderVerdict(verdict, args.format));
    stdout.write(renderText(verdict) + '\n');
  } else {
    stdout.write(renderVerdict(verdict, args.format));
  }
  return verdict.verdict === 'pass' ? EXIT.ok : EXIT.checkFailed;
}
