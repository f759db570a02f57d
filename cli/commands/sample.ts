import type { CommandSpec } from '../command.ts';
import type { SampleArgs } from '../actions/sample.ts';
import { samplerFlags } from '../sampler-options.ts';

export const sample: CommandSpec = {
  command: 'sample',
  describe: 'Sample the fiber of one query image (local): samples.npy, PNGs and samples.arrow',
  builder: (y) =>
    samplerFlags(
      y
        .option('prior', { type: 'string', demandOption: true, describe: 'Prior bundle: a folder or s3://bucket/prefix with fiberscope.json' })
        .option('extractor', { type: 'string', demandOption: true, describe: 'Extractor bundle: a folder or s3://bucket/prefix with fiberscope.json' })
        .option('query', { type: 'string', demandOption: true, describe: "Query image (a path or s3://bucket/key): PNG, JPEG, or .npy (float32 C×H×W in the prior's range)" })
        .option('out', { type: 'string', demandOption: true, describe: 'Output: a folder or s3://bucket/prefix' })
        .option('resize-query', { type: 'boolean', default: false, describe: "Resize a query of another size to the prior's (bilinear)" })
        .option('json', { type: 'boolean', default: false, describe: 'Print the result as JSON' }),
    ),
  run: async (args) => (await import('../actions/sample.ts')).runSample(args as unknown as SampleArgs),
};
