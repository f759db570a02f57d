import { DataType } from '../../onnx/ir.ts';
import type { OpRule } from '../rule.ts';

/**
 * y = gather(x, indices, axis): dx accumulates dy rows at their indices (repeats add up). Written
 * as a one-hot matrix product (one-hot from Equal against a Range, which every runtime implements
 * for every type), so it needs no scatter-add and works at every opset.
 */
export const gather: OpRule = {
  op: 'Gather',
  differentiable: [0],
  versions: [
    {
      since: 11,
      vjp: (c) => {
        const b = c.b;
        const x = c.input(0);
        const dims = c.requireShape(x);
        const axis = (c.int('axis', 0) + dims.length) % dims.length;
        const prod = (d: number[]): number => d.reduce((p, q) => p * q, 1);
        const depth = dims[axis]!;
        const [pre, post] = [prod(dims.slice(0, axis)), prod(dims.slice(axis + 1))];
        const raw = b.op('Reshape', [b.op('Cast', [c.input(1)], { to: DataType.int64 }), b.int64s([-1, 1], 'shape')]);
        const n = b.scalar(depth, DataType.int64);
        const indices = b.op('Where', [b.op('Less', [raw, b.scalar(0, DataType.int64)]), b.op('Add', [raw, n]), raw]);
        const positions = b.op('Range', [b.scalar(0, DataType.int64), n, b.scalar(1, DataType.int64)]);
        const oneHot = b.op('Cast', [b.op('Equal', [indices, positions])], { to: c.dtype(x) });
        const rows = b.op('Reshape', [c.dy()!, b.int64s([pre, -1, post], 'shape')]);
        const summed = b.op('MatMul', [b.op('Transpose', [oneHot], { perm: [1, 0] }), rows]);
        c.setDx(0, b.op('Reshape', [summed, b.int64s(dims, 'shape')]));
      },
    },
  ],
};
