import { DataType } from '../../onnx/ir.ts';
import type { OpRule, RuleContext } from '../rule.ts';

/**
 * With static dims: a one-hot matrix product (one-hot from Equal against a Range, which every
 * runtime implements for every type); needs no scatter-add, so it works at every opset.
 */
function oneHotGradient(c: RuleContext, dims: number[], axis: number): string {
  const b = c.b;
  const prod = (d: number[]): number => d.reduce((p, q) => p * q, 1);
  const depth = dims[axis]!;
  const [pre, post] = [prod(dims.slice(0, axis)), prod(dims.slice(axis + 1))];
  const raw = b.op('Reshape', [b.op('Cast', [c.input(1)], { to: DataType.int64 }), b.int64s([-1, 1], 'shape')]);
  const n = b.scalar(depth, DataType.int64);
  const indices = b.op('Where', [b.op('Less', [raw, b.scalar(0, DataType.int64)]), b.op('Add', [raw, n]), raw]);
  const positions = b.op('Range', [b.scalar(0, DataType.int64), n, b.scalar(1, DataType.int64)]);
  const oneHot = b.op('Cast', [b.op('Equal', [indices, positions])], { to: c.dtype(c.input(0)) });
  const rows = b.op('Reshape', [c.dy()!, b.int64s([pre, -1, post], 'shape')]);
  const summed = b.op('MatMul', [b.op('Transpose', [oneHot], { perm: [1, 0] }), rows]);
  return b.op('Reshape', [summed, b.int64s(dims, 'shape')]);
}

/**
 * With runtime dims (opset 16+): the same gather taken of x's flat element indices says where
 * each dy element came from; ScatterElements with reduction 'add' sums repeats.
 */
function scatterGradient(c: RuleContext, axis: number): string {
  const b = c.b;
  const x = c.input(0);
  const shape = b.op('Shape', [x]);
  const flatIndex = b.op('Range', [b.scalar(0, DataType.int64), b.op('Size', [x]), b.scalar(1, DataType.int64)]);
  const picked = b.op('Gather', [b.op('Reshape', [flatIndex, shape]), c.input(1)], { axis });
  const flat = b.int64s([-1], 'shape');
  const zeros = b.op('Reshape', [c.zerosLike(x), flat]);
  const scattered = b.op(
    'ScatterElements',
    [zeros, b.op('Reshape', [picked, flat]), b.op('Reshape', [c.dy()!, flat])],
    {
      axis: 0,
      reduction: 'add',
    },
  );
  return b.op('Reshape', [scattered, shape]);
}

/** y = gather(x, indices, axis): dx accumulates dy at the gathered positions (repeated indices add up). */
export const gather: OpRule = {
  op: 'Gather',
  differentiable: [0],
  versions: [
    {
      since: 11,
      vjp: (c) => {
        const x = c.input(0);
        const rank = c.rank(x);
        const axis = (c.int('axis', 0) + rank) % rank;
        const dims = c.shape(x);
        if (dims) return c.setDx(0, oneHotGradient(c, dims, axis));
        if (c.opset < 16)
          c.fail(`needs the static shape of '${x}' below opset 16; give input shapes so that shapes can be resolved`);
        c.setDx(0, scatterGradient(c, axis));
      },
    },
  ],
};
