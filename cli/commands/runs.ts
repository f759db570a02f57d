import type { CommandSpec } from '../command.ts';
import type { RunsArgs } from '../actions/runs.ts';
import { envDefaults } from '../env.ts';

/** `fiberscope runs list` and `fiberscope runs show RUN`: the run catalogue of a store. */
export const runs: CommandSpec = {
  command: 'runs <action> [run]',
  describe: 'The run catalogue of a store (runs list, runs show RUN)',
  builder: (y) =>
    y
      .positional('action', { choices: ['list', 'show'] as const, describe: 'list: every run, newest first; show: one run in full' })
      .positional('run', { type: 'string', describe: 'show: a run id in --store, a run folder, or s3://…/runs/<id>' })
      .option('store', { type: 'string', default: envDefaults.store(), describe: 'Store holding the runs: a folder or s3://bucket/prefix (env FIBERSCOPE_STORE)' })
      .option('json', { type: 'boolean', default: false, describe: 'Print JSON' }),
  run: async (args) => (await import('../actions/runs.ts')).runRuns(args as unknown as RunsArgs),
};
