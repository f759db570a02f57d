import { DataType } from '../../onnx/ir.ts';
import type { OpRule } from '../rule.ts';

/**
 * y = concat(x1..xn, axis): dy split back into the inputs' extents along the axis; one Split with
 * static sizes, or Slices at offsets computed from the inputs' runtime shapes.
 */
export const concat: OpRule = {
  op: 'Concat',
  differentiable: 'all',
  versions: [
    {
      since: 11,
      vjp: (c) => {
        const rank = c.rank(c.input(0));
        const axis = (c.int('axis', 0) + rank) % rank;
        const inputs = Array.from({ length: c.inputCount }, (_, i) => c.input(i));
        const dims = inputs.map((x) => c.shape(x));
        if (dims.every((d) => d !== undefined)) {
          const parts = c.b.split(
            c.dy()!,
            axis,
            dims.map((d) => d[axis]!),
          );
          parts.forEach((p, i) => c.setDx(i, p));
          return;
        }
        const b = c.b;
        const axes = b.int64s([axis], 'axes');
        let start = b.constant(DataType.int64, [1], [0], 'start');
        inputs.forEach((x, i) => {
          const size = b.op('Slice', [b.op('Shape', [x]), axes, b.int64s([axis + 1], 'ends')]);
          const end = b.op('Add', [start, size]);
          if (c.needs(i)) c.setDx(i, b.op('Slice', [c.dy()!, start, end, axes]));
          start = end;
        });
      },
    },
  ],
};
