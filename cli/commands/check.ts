import type { CommandSpec } from '../command.ts';
import type { CheckArgs } from '../actions/check.ts';
import { envDefaults } from '../env.ts';
import { GATE_DEFAULTS } from '../../gate/verdict.ts';
import { GATE_FORMATS } from '../../gate/render.ts';

/**
 * `fiberscope check`: the regression gate. Two finished runs (--candidate), or a candidate bundle
 * audited on the baseline's images with its settings first (--extractor, the one-shot CI form).
 */
export const check: CommandSpec = {
  command: 'check',
  describe: 'Regression gate: compare a candidate run (or bundle) with a baseline run; exit 1 on a regression',
  builder: (y) =>
    y
      .option('baseline', { type: 'string', demandOption: true, describe: 'Baseline RUN: a run id in --store, a run folder or s3://…/runs/<id>' })
      .option('candidate', { type: 'string', describe: 'Candidate RUN (as --baseline)' })
      .option('extractor', { type: 'string', describe: "Candidate extractor bundle: audited first on the baseline's images with its prior, seed and sampler settings" })
      .option('store', { type: 'string', default: envDefaults.store(), describe: 'Store for run ids: a folder or s3://bucket/prefix (env FIBERSCOPE_STORE)' })
      .option('format', { type: 'string', choices: GATE_FORMATS, default: 'text', describe: 'Verdict format: text, markdown (a PR comment), json (gate.json), junit (XML)' })
      .option('out', { type: 'string', describe: 'Write the verdict in --format to this file (a text verdict still goes to stdout)' })
      .option('alpha', { type: 'number', default: GATE_DEFAULTS.alpha, describe: 'Family-wise significance level (Holm over every probe and metric)' })
      .option('min-effect', { type: 'number', default: GATE_DEFAULTS.minEffect, describe: "Smallest change of a probe's or the error share of samples (0..1) that fails the gate" })
      .option('min-ratio-change', { type: 'number', default: GATE_DEFAULTS.minRatioChange, describe: 'Smallest relative change of the fiber-metric to nearest-neighbour ratio that fails the gate' })
      .option('worst', { type: 'number', default: GATE_DEFAULTS.worst, describe: 'Images listed as changed most' })
      .option('candidate-store', { type: 'string', describe: "With --extractor: the store for the candidate run (default: the baseline's store)", group: 'One-shot (--extractor):' })
      .option('run-id', { type: 'string', describe: 'With --extractor: the candidate run id', group: 'One-shot (--extractor):' })
      .option('engine', { type: 'string', choices: ['local', 'temporal'], default: 'local', describe: 'With --extractor: audit in this process or on Temporal', group: 'One-shot (--extractor):' })
      .option('concurrency', { type: 'number', default: 1, describe: 'Shards sampled at once (local engine)', group: 'One-shot (--extractor):' })
      .option('provider', { type: 'string', choices: ['cpu', 'cuda', 'webgpu'], describe: "ONNX Runtime execution provider (default: the baseline's)", group: 'One-shot (--extractor):' })
      .option('window', { type: 'number', describe: 'Shards in flight at once (temporal engine)', group: 'One-shot (--extractor):' })
      .option('task-queue', { type: 'string', describe: 'Task queue of the control workers (temporal engine)', group: 'One-shot (--extractor):' })
      .option('sampling-queue', { type: 'string', describe: 'Task queue of the sampling workers (temporal engine)', group: 'One-shot (--extractor):' }),
  run: async (args) => (await import('../actions/check.ts')).runCheck(args as unknown as CheckArgs),
};
