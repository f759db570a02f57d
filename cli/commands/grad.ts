import type { CommandSpec } from '../command.ts';
import type { GradRequest as GradArgs } from '../actions/grad.ts';


/** `fiberscope grad`: derive the VJP graph of a model's output with respect to inputs and save it. */
export const grad: CommandSpec = {
  command: 'grad',
  describe: 'Derive a gradient (VJP) graph of an ONNX model and save it',
  builder: (y) =>
    y
      .option('model', { type: 'string', demandOption: true, describe: 'forward model (.onnx)' })
      .option('of', { type: 'string', demandOption: true, describe: 'output Y to differentiate' })
      .option('wrt', {
        type: 'string',
        array: true,
        demandOption: true,
        describe: 'input X to differentiate with respect to (repeatable)',
      })
      .option('out', { type: 'string', demandOption: true, describe: 'where to write the gradient model' })
      .option('shape', {
        type: 'string',
        array: true,
        describe: 'static dims of an input, NAME=D1,D2,... (repeatable); needed where the model declares symbolic dims',
      })
      .option('opset', {
        type: 'number',
        describe: 'convert the model to this opset first (11–21), e.g. for exports older than opset 11',
      })
      .option('external-data', {
        type: 'boolean',
        default: false,
        describe: 'write large initializers to <out>.data beside the model',
      })
      .option('json', { type: 'boolean', default: false, describe: 'print a JSON summary' })
      .example('$0 grad --model classifier.onnx --of logits --wrt pixel_values --out classifier.vjp.onnx', ''),
  run: async (raw) => {
    const args = raw as unknown as GradArgs;
    const { deriveGradientModel } = await import('../actions/grad.ts');
    return deriveGradientModel(args);
  },
};
