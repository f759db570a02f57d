import type { CommandSpec } from '../command.ts';

interface ModelsArgs {
  action: string;
  path: string;
  of?: string;
  wrt?: string[];
  json?: boolean;
}

/** `fiberscope models inspect PATH`: operators, opsets and gradient coverage of a model (or a bundle). */
export const models: CommandSpec = {
  command: 'models <action> <path>',
  describe: 'Inspect bundles and ONNX models (models inspect PATH)',
  builder: (y) =>
    y
      .positional('action', { choices: ['inspect'] as const, describe: 'what to do' })
      .positional('path', { type: 'string', describe: 'an .onnx file, or a bundle folder with fiberscope.json' })
      .option('of', { type: 'string', describe: 'with --wrt: check the gradient path from this output' })
      .option('wrt', { type: 'string', array: true, describe: 'with --of: inputs the gradient is taken for' })
      .option('json', { type: 'boolean', default: false, describe: 'print JSON' }),
  run: async (raw) => {
    const args = raw as unknown as ModelsArgs;
    const { inspectPath } = await import('../actions/models.ts');
    return inspectPath(args.path, { json: args.json ?? false, of: args.of, wrt: args.wrt });
  },
};
