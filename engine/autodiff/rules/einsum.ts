import { broadcastDims } from '../broadcast.ts';
import type { OpRule, RuleContext } from '../rule.ts';

const ELLIPSIS = '...';

function tokens(term: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < term.length;) {
    if (term.startsWith(ELLIPSIS, i)) {
      out.push(ELLIPSIS);
      i += 3;
    } else out.push(term[i++]!);
  }
  return out;
}

function parse(c: RuleContext): { terms: string[][]; output: string[] } {
  const equation = c.string('equation', '').replace(/\s+/g, '');
  const [lhs, rhs] = equation.split('->') as [string, string | undefined];
  const terms = lhs.split(',').map(tokens);
  for (const t of terms) {
    const letters = t.filter((x) => x !== ELLIPSIS);
    if (new Set(letters).size !== letters.length)
      c.fail(`equation '${equation}' repeats an index within one operand (diagonals are not supported)`);
    if (t.indexOf(ELLIPSIS) > 0) c.fail(`equation '${equation}': '...' is supported only at the start of an operand`);
  }
  let output: string[];
  if (rhs !== undefined) output = tokens(rhs);
  else {
    const counts = new Map<string, number>();
    for (const t of terms) for (const x of t) if (x !== ELLIPSIS) counts.set(x, (counts.get(x) ?? 0) + 1);
    output = [...counts]
      .filter(([, n]) => n === 1)
      .map(([x]) => x)
      .sort();
    if (terms.some((t) => t.includes(ELLIPSIS))) output.unshift(ELLIPSIS);
  }
  if (terms.some((t) => t.includes(ELLIPSIS)) && output[0] !== ELLIPSIS) {
    c.fail(`equation '${equation}': '...' must lead the output when an operand has it`);
  }
  return { terms, output };
}

/**
 * y = einsum(equation, x1..xn), as exporters write it (explicit or implicit output, leading '...'):
 * dxi = einsum(dy and the other operands -> xi's indices). Indices that only xi has (summed over
 * alone) are put back by broadcasting; broadcast '...' dims are summed back to xi's shape.
 */
export const einsum: OpRule = {
  op: 'Einsum',
  differentiable: 'all',
  versions: [
    {
      since: 12,
      vjp: (c) => {
        const { terms, output } = parse(c);
        const y = c.output(0);
        const outDims = c.shape(y);
        const ellOut = output[0] === ELLIPSIS ? c.rank(y) - (output.length - 1) : 0;
        terms.forEach((term, i) => {
          if (!c.needs(i)) return;
          const x = c.input(i);
          const others = terms.filter((_, j) => j !== i);
          const kept = term.filter((t) => t === ELLIPSIS || output.includes(t) || others.some((o) => o.includes(t)));
          const equation = `${[output, ...others].map((t) => t.join('')).join(',')}->${kept.join('')}`;
          const inputs = [c.dy()!, ...c.node.inputs.filter((_, j) => j !== i)];
          let grad = c.b.op('Einsum', inputs, { equation });
          const shift = term[0] === ELLIPSIS ? ellOut - 1 : 0;
          const missing = term.flatMap((t, k) => (kept.includes(t) ? [] : [k + shift]));
          if (missing.length) grad = c.b.op('Expand', [c.b.unsqueeze(grad, missing), c.shapeOf(x)]);
          if (term[0] !== ELLIPSIS) return c.setDx(i, grad);
          // Broadcast '...' dims are summed back; with static dims the axes are constants.
          const xDims = c.shape(x);
          let gradDims: number[] | undefined;
          if (outDims && xDims) {
            const ellX = xDims.length - (term.length - 1);
            gradDims = [...outDims.slice(0, ellOut), ...xDims.slice(ellX)];
            if (missing.length) gradDims = broadcastDims(gradDims, xDims);
          }
          c.setDx(i, c.reduceToShape(grad, x, gradDims));
        });
      },
    },
  ],
};
