import { normAxis, reduce, trailingAxes } from '../reduction.ts';
import type { OpRule, RuleContext } from '../rule.ts';

/** y = x − log Σ exp(x) along `axes`: dx = dy − exp(y) Σ dy. */
function logSoftmaxVjp(c: RuleContext, axes: number[]): void {
  const b = c.b;
  const dy = c.dy()!;
  const total = reduce(b, 'ReduceSum', dy, axes, true);
  c.setDx(0, b.op('Sub', [dy, b.op('Mul', [b.op('Exp', [c.output(0)]), total])]));
}

/** Axis semantics as Softmax: coerced to 2-D from `axis` (default 1) before opset 13, one axis (default −1) from 13. */
export const logSoftmax: OpRule = {
  op: 'LogSoftmax',
  differentiable: 'all',
  versions: [
    {
      since: 1,
      vjp: (c) => {
        const rank = c.rank(c.input(0));
        logSoftmaxVjp(c, trailingAxes(normAxis(c, c.int('axis', 1), rank), rank));
      },
    },
    {
      since: 13,
      vjp: (c) => logSoftmaxVjp(c, [normAxis(c, c.int('axis', -1), c.rank(c.input(0)))]),
    },
  ],
};
