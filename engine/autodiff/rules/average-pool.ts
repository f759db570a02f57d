import { makeTensor } from '../../onnx/ir.ts';
import type { OpRule } from '../rule.ts';
import { adjointWindowAttrs, windowOf } from '../spatial.ts';

/**
 * y = averagepool(x) with pads, auto_pad, ceil_mode, count_include_pad and (opset 19) dilations.
 * Each output divides its window sum by a count that depends only on its position, as
 * onnxruntime counts it: the window clipped to the padded input (count_include_pad) or to the
 * input itself. So dx = convtranspose(dy / count, ones) per channel; the counts are a constant
 * computed here from the static shapes, one factor per spatial axis.
 */
export const averagePool: OpRule = {
  op: 'AveragePool',
  differentiable: [0],
  versions: [
    {
      since: 11,
      vjp: (c) => {
        const x = c.input(0);
        const b = c.b;
        const kernel = c.ints('kernel_shape') ?? c.fail('kernel_shape is missing');
        const win = windowOf(c, x, kernel, c.opset >= 19);
        const [, channels, ...xDims] = c.requireShape(x) as [number, number, ...number[]];
        const outDims = c.requireShape(c.output(0)).slice(2);
        const includePad = c.int('count_include_pad', 0) === 1;
        const perAxis = outDims.map((size, a) =>
          Array.from({ length: size }, (_, o) => {
            const start = o * win.strides[a]! - win.begin[a]!;
            const [lo, hi] = includePad ? [-win.begin[a]!, xDims[a]! + win.end[a]!] : [0, xDims[a]!];
            let count = 0;
            for (let k = 0; k < kernel[a]!; k++) {
              const at = start + k * win.dilations[a]!;
              if (at >= lo && at < hi) count++;
            }
            return count;
          }),
        );
        const scale: number[] = [];
        const visit = (a: number, product: number): void => {
          if (a === outDims.length) return void scale.push(1 / product);
          for (const k of perAxis[a]!) visit(a + 1, product * k);
        };
        visit(0, 1);
        const dtype = c.dtype(x);
        const weighted = b.op('Mul', [c.dy()!, b.constant(dtype, outDims, scale, 'pool_scale')]);
        const ones = makeTensor(
          b.fresh('pool_ones'),
          dtype,
          [channels, 1, ...kernel],
          new Array(channels * kernel.reduce((p, k) => p * k, 1)).fill(1),
        );
        const attrs = { group: channels, kernel_shape: kernel, ...adjointWindowAttrs(win, xDims, outDims) };
        c.setDx(0, b.op('ConvTranspose', [weighted, b.initializer(ones)], attrs));
      },
    },
  ],
};
