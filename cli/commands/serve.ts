import type { CommandSpec } from '../command.ts';
import { envDefaults } from '../env.ts';
import type { ServeArgs } from '../actions/serve.ts';

export const serve: CommandSpec = {
  command: 'serve',
  describe: 'Serve the dashboard of a store: runs, live progress of Temporal audits, run pages, schedule trends (read-only)',
  builder: (y) =>
    y
      .option('store', { type: 'string', default: envDefaults.store(), describe: 'Store holding the runs: a folder or s3://bucket/prefix (env FIBERSCOPE_STORE)' })
      .option('temporal-address', { type: 'string', describe: 'Temporal frontend for live progress (env FIBERSCOPE_TEMPORAL_ADDRESS, default 127.0.0.1:7233)' })
      .option('namespace', { type: 'string', describe: 'Temporal namespace (env FIBERSCOPE_TEMPORAL_NAMESPACE, default default)' })
      .option('host', { type: 'string', default: '127.0.0.1', describe: 'Interface to listen on; anything but loopback exposes the store to the network' })
      .option('port', { type: 'number', default: 8420, describe: 'Port to listen on (0: any free port)' })
      .option('page-size', { type: 'number', default: 24, describe: 'Images per run page' }),
  run: async (args) => (await import('../actions/serve.ts')).runServe(args as unknown as ServeArgs),
};
