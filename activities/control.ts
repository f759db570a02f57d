import { Context } from '@temporalio/activity';
import { InputError } from '../engine/errors.ts';
import { runLayout } from '../store/layout.ts';
import { openStore } from '../store/objects.ts';
import type { ObjectStore } from '../store/objects.ts';
import { planShards } from '../workflows/plan.ts';
import { createRun } from './run.ts';
import type { NewRun } from './run.ts';
import { parseRunConfig } from '../runs/manifest.ts';
import type { RunConfig } from '../runs/manifest.ts';
import { gateRuns, loadGateRun } from '../gate/compare.ts';
import type { GateVerdict } from '../gate/verdict.ts';
import { resolveRun } from '../runs/catalogue.ts';
import { writeRunFailure, writeRunStatus } from '../runs/status.ts';
import { summarizeRun } from './summary.ts';
import type { RunSummary } from '../runs/summary.ts';

/** A NewRun as it travels through Temporal payloads (JSON): the seed as a decimal string. */
export type RunRequest = Omit<NewRun, 'sampler'> & { sampler: RunConfig['sampler'] };

export function runRequestOf(spec: NewRun): RunRequest {
  return { ...spec, sampler: { ...spec.sampler, seed: spec.sampler.seed.toString() } };
}

export function newRunOf(request: RunRequest): NewRun {
  return { ...request, sampler: { ...request.sampler, seed: BigInt(request.sampler.seed) } };
}

export interface PrepareRunInput {
  /** The store the submitter expects the run in; it must be the one the workers write to. */
  store: string;
  run: RunRequest | { resume: string };
}

/** What the workflow needs to plan: counts, never the image list. */
export interface PreparedRun {
  runId: string;
  location: string;
  imageCount: number;
  /** With imageCount, reproduces the run's shards through `planShards`. */
  shardSize: number;
  shardCount: number;
  /** The run has a separate reference set to embed before it is summarized. */
  hasReference: boolean;
}

export interface SummarizedRun {
  runId: string;
  location: string;
  summaryKey: string;
  reportKey: string;
  /** The run-level figures (bounded size: quantiles and one rate per probe). */
  summary: RunSummary;
}

export interface ControlDeps {
  store: ObjectStore;
}

function preparedFrom(config: RunConfig, location: string): PreparedRun {
  const first = config.shards[0];
  const shardSize = first === undefined ? 1 : first.end - first.start;
  const planned = planShards(config.imageCount, shardSize);
  if (JSON.stringify(planned) !== JSON.stringify(config.shards.map(({ shard, start, end }) => ({ shard, start, end })))) {
    throw new InputError('run', `run '${config.runId}' has shards that a fixed shard size does not reproduce`);
  }
  return { runId: config.runId, location, imageCount: config.imageCount, shardSize, shardCount: planned.length, hasReference: config.reference !== null };
}

/**
 * Activities of the `control` queue: create (or reopen) a run folder before any sampling, and
 * summarize it after. Bad input is an InputError, which the worker makes non-retryable.
 */
export function createControlActivities({ store }: ControlDeps) {
  const checkStore = (spec: string) => {
    const wanted = openStore(spec).location;
    if (wanted !== store.location) {
      throw new InputError('store', `the workers write to ${store.location}, not ${wanted}; submit with that store or start workers on it`);
    }
  };
  return {
    async prepareRun(input: PrepareRunInput): Promise<PreparedRun> {
      checkStore(input.store);
      const prepared = await prepare(input);
      await writeRunStatus(store, prepared.runId, { state: 'running', engine: 'temporal', workflowId: Context.current().info.workflowExecution?.workflowId, phase: 'sampling' });
      return prepared;
    },

    /**
     * The regression gate after a scheduled audit: compares the candidate run with the baseline (a run
     * id in this store, or a run folder) and records the verdict in the candidate run.
     */
    async gateRun(input: { store: string; baseline: string; candidate: string }): Promise<{ verdict: GateVerdict['verdict'] }> {
      checkStore(input.store);
      const b = input.baseline.includes('/') ? resolveRun(input.baseline, store.location, 'gate-baseline') : { store, runId: input.baseline };
      const verdict = await gateRuns(await loadGateRun(b.store, b.runId, 'gate-baseline'), await loadGateRun(store, input.candidate, 'candidate'));
      return { verdict: verdict.verdict };
    },

    /** An audit that ended without its summary records why; a run that was never created has nothing to record. */
    async recordRunFailure(input: { store: string; runId: string; kind: string; message: string; phase?: string; shard?: string }): Promise<void> {
      checkStore(input.store);
      if (!(await store.exists(runLayout(input.runId).manifest))) return;
      await writeRunFailure(store, input.runId, { ...input, engine: 'temporal', workflowId: Context.current().info.workflowExecution?.workflowId });
    },

    async summarizeRun(input: { store: string; runId: string }): Promise<SummarizedRun> {
      checkStore(input.store);
      const result = await summarizeRun(store, input.runId);
      await writeRunStatus(store, input.runId, { state: 'done', engine: 'temporal', workflowId: Context.current().info.workflowExecution?.workflowId, phase: 'done' });
      return { runId: input.runId, location: store.location, summaryKey: result.summaryKey, reportKey: result.reportKey, summary: result.summary };
    },
  };

  async function prepare(input: PrepareRunInput): Promise<PreparedRun> {
    if ('resume' in input.run) {
      const key = runLayout(input.run.resume).manifest;
      if (!(await store.exists(key))) throw new InputError('resume', `no run '${input.run.resume}' in ${store.location}`);
      return preparedFrom(parseRunConfig(await store.get(key), key), store.location);
    }
    const { runId } = input.run;
    // A retry after the manifest was written finds the run this activity created itself.
    if (runId !== undefined && Context.current().info.attempt > 1 && (await store.exists(runLayout(runId).manifest))) {
      const key = runLayout(runId).manifest;
      return preparedFrom(parseRunConfig(await store.get(key), key), store.location);
    }
    return preparedFrom(await createRun(store, newRunOf(input.run)), store.location);
  }
}
