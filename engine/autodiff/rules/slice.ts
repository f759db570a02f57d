import { DataType } from '../../onnx/ir.ts';
import type { OpRule } from '../rule.ts';

/**
 * y = slice(x, starts, ends, axes, steps) (inputs, opset 10+): the same slice is taken of x's flat
 * element indices, and dy is scattered to them. Works for any steps (negative, strided) and for
 * shapes known only at run time.
 */
export const slice: OpRule = {
  op: 'Slice',
  differentiable: [0],
  versions: [
    {
      since: 10,
      vjp: (c) => {
        const b = c.b;
        const x = c.input(0);
        const shape = c.shapeOf(x);
        const count = b.op('Size', [x]);
        const flatIndex = b.op('Range', [b.scalar(0, DataType.int64), count, b.scalar(1, DataType.int64)]);
        const index = b.op('Reshape', [flatIndex, shape]);
        const picked = b.op('Slice', [index, ...c.node.inputs.slice(1)]);
        const flat = b.int64s([-1], 'shape');
        const zeros = b.op('Reshape', [c.zerosLike(x), flat]);
        const scattered = b.op(
          'ScatterElements',
          [zeros, b.op('Reshape', [picked, flat]), b.op('Reshape', [c.dy()!, flat])],
          { axis: 0 },
        );
        c.setDx(0, b.op('Reshape', [scattered, shape]));
      },
    },
  ],
};
