import type { CommandSpec } from '../command.ts';
import type { WorkerArgs } from '../actions/worker.ts';

export const worker: CommandSpec = {
  command: 'worker',
  describe: 'Run a Temporal worker: control (workflows, run preparation, summaries) or sampling (one per device)',
  builder: (y) =>
    y
      .option('queue', { type: 'string', choices: ['control', 'sampling'], demandOption: true, describe: 'The task queue to serve' })
      .option('task-queue', { type: 'string', describe: 'Serve this task queue instead of the default one of --queue (e.g. a pool of one GPU kind)' })
      .option('store', { type: 'string', describe: 'Store the runs live in: a folder, file:// URL or s3://bucket/prefix (env FIBERSCOPE_STORE)' })
      .option('provider', { type: 'string', choices: ['cpu', 'cuda', 'webgpu'], describe: "ONNX Runtime execution provider of a sampling worker (default: the run's)" })
      .epilogue('Temporal: FIBERSCOPE_TEMPORAL_ADDRESS (default 127.0.0.1:7233), FIBERSCOPE_TEMPORAL_NAMESPACE (default default); S3: FIBERSCOPE_S3_*.'),
  run: async (args) => (await import('../actions/worker.ts')).runWorker(args as unknown as WorkerArgs),
};
