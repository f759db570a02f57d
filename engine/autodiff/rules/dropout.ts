import type { OpRule } from '../rule.ts';

/** Inference-mode Dropout is the identity; training mode (random masks) is refused. */
export const dropout: OpRule = {
  op: 'Dropout',
  differentiable: [0],
  versions: [
    {
      since: 1,
      vjp: (c) => {
        const mode = c.input(2);
        if (mode) {
          const v = c.constValues(mode);
          if (!v || v[0] !== 0) c.fail('training_mode must be a constant false: a random mask has no fixed gradient');
        }
        c.setDx(0, c.dy()!);
      },
    },
  ],
};
