import type { CommandSpec } from '../command.ts';
import type { DemoArgs } from '../actions/demo.ts';

export const demo: CommandSpec = {
  command: 'demo',
  describe: 'Build the bundled MNIST demo (prior + two extractors) and audit both on the local engine',
  builder: (y) =>
    y
      .option('out', { type: 'string', default: 'fiberscope-demo', describe: 'Folder for the demo bundles, queries and runs' })
      .option('json', { type: 'boolean', default: false, describe: 'Print the comparison as JSON' }),
  run: async (args) => (await import('../actions/demo.ts')).runDemo(args as unknown as DemoArgs),
};
