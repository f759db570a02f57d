import type { CommandSpec } from '../command.ts';
import { envDefaults } from '../env.ts';
import type { CrossArgs } from '../actions/cross.ts';

/** `fiberscope cross`: does a second model share the invariances of the run's model? (METHOD §9) */
export const cross: CommandSpec = {
  command: 'cross',
  describe: "Cross-model agreement: embed a run's fiber samples with a second extractor, next to its nearest-neighbour baseline",
  builder: (y) =>
    y
      .option('run', { type: 'string', demandOption: true, describe: 'Run: an id in --store, a run folder, or s3://…/runs/<id>' })
      .option('extractor', { type: 'string', demandOption: true, describe: 'The second extractor bundle: a folder or s3://bucket/prefix' })
      .option('store', { type: 'string', default: envDefaults.store(), describe: 'Store holding the run when RUN is an id (env FIBERSCOPE_STORE)' })
      .option('provider', { type: 'string', choices: ['cpu', 'cuda', 'webgpu'], default: envDefaults.provider(), describe: 'ONNX Runtime execution provider (env FIBERSCOPE_PROVIDER)' })
      .option('json', { type: 'boolean', default: false, describe: 'Print the agreement summary as JSON' }),
  run: async (args) => (await import('../actions/cross.ts')).runCross(args as unknown as CrossArgs),
};
