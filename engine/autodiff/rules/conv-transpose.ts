import type { OpRule } from '../rule.ts';

/**
 * y = convtranspose(x, w) + b with groups, strides, dilations, pads and output_padding: the
 * adjoint of a Conv, so dx = conv(dy, w) with the same strides, dilations, pads and groups (rows
 * that output_padding added are read by no window). db sums dy over batch and space. output_shape
 * and auto_pad leave the split of padding to the runtime and are refused; weights are constants.
 */
export const convTranspose: OpRule = {
  op: 'ConvTranspose',
  differentiable: 'all',
  versions: [
    {
      since: 11,
      vjp: (c) => {
        const [w, bias] = [c.input(1), c.input(2)];
        const dy = c.dy()!;
        if (c.needs(1))
          c.fail('gradients with respect to ConvTranspose weights are not supported (weights are constants)');
        const yDims = c.requireShape(c.output(0));
        if (bias && c.needs(2)) c.setDx(2, c.b.reduceSum(dy, [0, ...yDims.slice(2).map((_, i) => i + 2)], false));
        if (!c.needs(0)) return;
        if (c.ints('output_shape')) c.fail('output_shape is not supported; export with explicit pads');
        const autoPad = c.string('auto_pad', 'NOTSET');
        if (autoPad !== 'NOTSET' && autoPad !== 'VALID')
          c.fail(`auto_pad ${autoPad} is not supported; export with explicit pads`);
        const rank = yDims.length - 2;
        const ones = new Array<number>(rank).fill(1);
        const pads =
          autoPad === 'VALID'
            ? new Array<number>(2 * rank).fill(0)
            : (c.ints('pads') ?? new Array<number>(2 * rank).fill(0));
        const attrs = {
          strides: c.ints('strides') ?? ones,
          dilations: c.ints('dilations') ?? ones,
          pads,
          group: c.int('group', 1),
        };
        c.setDx(0, c.b.op('Conv', [dy, w], attrs));
      },
    },
  ],
};
