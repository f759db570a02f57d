import { axesFrom, normAxis, reduce } from '../reduction.ts';
import type { OpRule, RuleContext } from '../rule.ts';

/** y = softmax(x) along `axes`: dx = y (dy − Σ dy y). */
function softmaxVjp(c: RuleContext, axes: number[]): void {
  const b = c.b;
  const [y, dy] = [c.output(0), c.dy()!];
  const dot = reduce(b, 'ReduceSum', b.op('Mul', [dy, y]), axes, true);
  c.setDx(0, b.op('Mul', [y, b.op('Sub', [dy, dot])]));
}

/**
 * Before opset 13 softmax treats x as 2-D, [d0·…·d(axis−1), d(axis)·…], and normalises over all
 * axes from `axis` (default 1) on; from 13 it normalises along the single axis (default −1).
 */
export const softmax: OpRule = {
  op: 'Softmax',
  differentiable: 'all',
  versions: [
    {
      since: 1,
      vjp: (c) => softmaxVjp(c, axesFrom(c, c.input(0), c.int('axis', 1))),
    },
    {
      since: 13,
      vjp: (c) => {
        const rank = c.shape(c.input(0))?.length;
        const axis = c.int('axis', -1);
        softmaxVjp(c, [rank === undefined ? axis : normAxis(c, axis, rank)]);
      },
    },
  ],
};
