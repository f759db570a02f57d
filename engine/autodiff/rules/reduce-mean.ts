import { reduceVersions } from '../reduction.ts';
import type { OpRule } from '../rule.ts';

/** y = mean of x over axes: dx = dy / n broadcast back, n the number of elements averaged. */
export const reduceMean: OpRule = {
  op: 'ReduceMean',
  differentiable: [0],
  versions: reduceVersions(18, (c, r, dy) => {
    if (r.identity) return dy;
    const b = c.b;
    const x = c.input(0);
    const dims = c.shape(x);
    let scaled: string;
    if (dims) {
      const n = (r.axes ?? dims.map((_, i) => i)).reduce((p, a) => p * dims[a]!, 1);
      scaled = b.op('Mul', [dy, c.scalar(1 / n, x)]);
    } else {
      const n = b.op('Div', [b.op('Size', [x]), b.op('Size', [c.output(0)])]);
      scaled = b.op('Div', [dy, b.op('Cast', [n], { to: c.dtype(x) })]);
    }
    return b.op('Expand', [scaled, c.shapeOf(x)]);
  }),
};
