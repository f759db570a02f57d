import type { OpRule } from '../rule.ts';
import { windowOf } from '../spatial.ts';

/**
 * y = maxpool(x): each output's cotangent goes to the input element its window picked. A MaxPool
 * with the same attributes returns those picks as flat indices into x (row-major, batch and
 * channel included); dy is scattered there. From opset 16 one ScatterElements with reduction
 * "add" sums the picks of overlapping windows; before, outputs are split into phases of
 * non-overlapping windows (every ⌈extent/stride⌉-th output per axis), each scattered on its own
 * and the phases summed.
 */
export const maxPool: OpRule = {
  op: 'MaxPool',
  differentiable: [0],
  versions: [
    {
      since: 11,
      vjp: (c) => {
        const x = c.input(0);
        const b = c.b;
        const kernel = c.ints('kernel_shape') ?? c.fail('kernel_shape is missing');
        const win = windowOf(c, x, kernel);
        const own = c.outputCount > 1 && c.output(1) && c.int('storage_order', 0) === 0 ? c.output(1) : undefined;
        const indices =
          own ??
          b.add(
            'MaxPool',
            [x],
            {
              kernel_shape: kernel,
              strides: win.strides,
              dilations: win.dilations,
              pads: [...win.begin, ...win.end],
              ceil_mode: c.int('ceil_mode', 0),
            },
            { outputs: 2 },
          )[1]!;
        const flat = b.int64s([-1], 'shape');
        const zeros = b.op('Reshape', [c.zerosLike(x), flat]);
        const dy = c.dy()!;
        const scatter = (updates: string, at: string, attrs = {}): string =>
          b.op('ScatterElements', [zeros, b.op('Reshape', [at, flat]), b.op('Reshape', [updates, flat])], {
            axis: 0,
            ...attrs,
          });
        let grad: string;
        if (c.opset >= 16) {
          grad = scatter(dy, indices, { reduction: 'add' });
        } else {
          const period = kernel.map((k, i) => Math.ceil(((k - 1) * win.dilations[i]! + 1) / win.strides[i]!));
          const axes = kernel.map((_, i) => i + 2);
          const phases: number[][] = [[]];
          for (const p of period)
            phases.splice(0, phases.length, ...phases.flatMap((o) => Array.from({ length: p }, (_, j) => [...o, j])));
          const parts = phases.map((offsets) => {
            if (offsets.every((o, i) => o === 0 && period[i] === 1)) return scatter(dy, indices);
            const pick = (t: string): string =>
              b.op('Slice', [
                t,
                b.int64s(offsets),
                b.int64s(offsets.map(() => Number.MAX_SAFE_INTEGER)),
                b.int64s(axes),
                b.int64s(period),
              ]);
            return scatter(pick(dy), pick(indices));
          });
          grad = parts.length === 1 ? parts[0]! : b.op('Sum', parts);
        }
        c.setDx(0, b.op('Reshape', [grad, c.shapeOf(x)]));
      },
    },
  ],
};
