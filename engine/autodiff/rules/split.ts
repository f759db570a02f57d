import type { OpRule } from '../rule.ts';

/** y1..yn = split(x, axis): dx concatenates the cotangents, with zeros for outputs nobody uses. */
export const split: OpRule = {
  op: 'Split',
  differentiable: [0],
  versions: [
    {
      since: 11,
      vjp: (c) => {
        const parts = Array.from({ length: c.outputCount }, (_, i) => c.dy(i) ?? c.zerosLike(c.output(i)));
        c.setDx(0, c.b.op('Concat', parts, { axis: c.int('axis', 0) }));
      },
    },
  ],
};
