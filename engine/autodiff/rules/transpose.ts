import type { OpRule } from '../rule.ts';

const reversed = (rank: number): number[] => Array.from({ length: rank }, (_, i) => rank - 1 - i);

/** y = transpose(x, perm): dx = transpose(dy, perm⁻¹); the default perm reverses the axes. */
export const transpose: OpRule = {
  op: 'Transpose',
  differentiable: 'all',
  versions: [
    {
      since: 1,
      vjp: (c) => {
        const perm = c.ints('perm') ?? reversed(c.rank(c.input(0)));
        const inverse = new Array<number>(perm.length);
        perm.forEach((p, i) => (inverse[p] = i));
        c.setDx(0, c.b.op('Transpose', [c.dy()!], { perm: inverse }));
      },
    },
  ],
};
