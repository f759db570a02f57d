import type { CommandSpec } from '../command.ts';
import type { WorkerArgs } from '../actions/worker.ts';

export const worker: CommandSpec = {
  command: 'worker',
  describe: 'Run a Temporal worker: control (workflows, run preparation, summaries) or sampling (one per device)',
  builder: (y) =>
    y
      // Not demanded here: the queue may come from --config; it is checked with the rest at start.
      .option('queue', { type: 'string', choices: ['control', 'sampling'], describe: 'The task queue to serve (required, here or in --config)' })
      .option('task-queue', { type: 'string', describe: 'Serve this task queue instead of the default one of --queue (e.g. a pool of one GPU kind)' })
      .option('store', { type: 'string', describe: 'Store the runs live in: a folder, file:// URL or s3://bucket/prefix (env FIBERSCOPE_STORE)' })
      .option('provider', { type: 'string', choices: ['cpu', 'cuda', 'webgpu'], describe: "ONNX Runtime execution provider of a sampling worker (env FIBERSCOPE_PROVIDER; default: the run's)" })
      .option('http-port', { type: 'number', describe: 'Port of /healthz, /readyz and /metrics (env FIBERSCOPE_WORKER_HTTP_PORT; default 9464; 0: no endpoint)' })
      .option('http-host', { type: 'string', describe: 'Address the endpoint listens on (env FIBERSCOPE_WORKER_HTTP_HOST; default 0.0.0.0)' })
      .option('shutdown-grace', { type: 'number', describe: 'Seconds a SIGTERM/SIGINT leaves running shards to finish their batch and hand back (env FIBERSCOPE_SHUTDOWN_GRACE; default 120)' })
      .option('temporal-address', { type: 'string', describe: 'Temporal frontend HOST:PORT (env FIBERSCOPE_TEMPORAL_ADDRESS; default 127.0.0.1:7233)' })
      .option('namespace', { type: 'string', describe: 'Temporal namespace (env FIBERSCOPE_TEMPORAL_NAMESPACE; default default)' })
      .option('config', { type: 'string', describe: 'JSON file of these settings, keys as the flag names (env FIBERSCOPE_WORKER_CONFIG); flags override env override file' })
      .epilogue('S3: FIBERSCOPE_S3_* or, when those are unset, the standard AWS_* variables.'),
  run: async (args) => (await import('../actions/worker.ts')).runWorker(args as unknown as WorkerArgs),
};
