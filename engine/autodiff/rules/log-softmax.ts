import { axesFrom, normAxis, reduce } from '../reduction.ts';
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
      vjp: (c) => logSoftmaxVjp(c, axesFrom(c, c.input(0), c.int('axis', 1))),
    },
    {
      since: 13,
      vjp: (c) => {
        const rank = c.shape(c.input(0))?.length;
        const axis = c.int('axis', -1);
        logSoftmaxVjp(c, [rank === undefined ? axis : normAxis(c, axis, rank)]);
      },
    },
  ],
};
