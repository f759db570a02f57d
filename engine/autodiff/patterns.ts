import type { Node } from '../onnx/ir.ts';
import type { RuleContext } from './rule.ts';

/**
 * Activations that exports spell as several nodes, differentiated at their last node in one go:
 * fewer passes over the activation than the chain of per-node rules (each pass reads and writes a
 * whole tensor, which is what elementwise-heavy gradient graphs spend their time on). Each matcher
 * checks the whole pattern, constants included, and returns undefined on anything else.
 */

/** Whether a constant input holds the single value `v` (relative tolerance for float rounding). */
function isConstant(c: RuleContext, name: string, v: number): boolean {
  const values = c.constValues(name);
  return values !== undefined && values.length === 1 && Math.abs(values[0]! - v) <= 1e-6 * Math.abs(v);
}

/** The other input of a two-input node, given one of them; undefined when `one` is not an input. */
function other(n: Node, one: string): string | undefined {
  if (n.inputs.length !== 2) return undefined;
  if (n.inputs[0] === one) return n.inputs[1];
  if (n.inputs[1] === one) return n.inputs[0];
  return undefined;
}

/** The node producing `name` when it is a default-domain `op` node; undefined otherwise. */
export function producedBy(c: RuleContext, name: string | undefined, op: string): Node | undefined {
  const n = name === undefined ? undefined : c.producer(name);
  return n && n.opType === op && (n.domain === '' || n.domain === 'ai.onnx') ? n : undefined;
}

/** x of a node computing x/√2, x·(1/√2) or (1/√2)·x; undefined for anything else. */
function overRootTwo(c: RuleContext, n: Node): string | undefined {
  if (n.inputs.length !== 2 || (n.domain !== '' && n.domain !== 'ai.onnx')) return undefined;
  const [a, b] = n.inputs as [string, string];
  if (n.opType === 'Div') return isConstant(c, b, Math.SQRT2) ? a : undefined;
  if (n.opType !== 'Mul') return undefined;
  if (isConstant(c, b, Math.SQRT1_2)) return a;
  return isConstant(c, a, Math.SQRT1_2) ? b : undefined;
}

/** y = x · σ(x) (SiLU, swish) at a Mul: x and the sigmoid output. */
export function silu(c: RuleContext): { x: string; s: string } | undefined {
  for (const i of [0, 1]) {
    const s = c.input(i);
    const x = c.input(1 - i);
    const sig = producedBy(c, s, 'Sigmoid');
    if (sig && sig.inputs[0] === x && x !== s) return { x, s };
  }
  return undefined;
}

/**
 * y = x/2 · (1 + erf(x/√2)) at its last Mul, as the legacy exporter writes it ((x · A) · ½) and as
 * the dynamo exporter does ((x · ½) · A), with x/√2 as a Div or a Mul by 1/√2: x, A = 1 + erf(·)
 * and the erf's argument.
 */
export function erfGelu(c: RuleContext): { x: string; a: string; z: string } | undefined {
  const [p, q] = [c.input(0), c.input(1)];
  // The ½ · (product with A) or the (½x) · A split.
  const halfOf = (n: string): boolean => isConstant(c, n, 0.5);
  const candidates: { a: string; xOf: (x: string) => boolean }[] = [];
  for (const [u, v] of [
    [p, q],
    [q, p],
  ] as const) {
    const prod = producedBy(c, u, 'Mul');
    if (!prod) continue;
    // (x · A) · ½: either input of the product may be A.
    if (halfOf(v)) for (const a of prod.inputs) candidates.push({ a, xOf: (x) => other(prod, a) === x });
    // (x · ½) · A
    const x = prod.inputs.find((t) => !halfOf(t));
    if (x !== undefined && prod.inputs.some(halfOf)) candidates.push({ a: v, xOf: (y) => y === x });
  }
  for (const { a, xOf } of candidates) {
    const add = producedBy(c, a, 'Add');
    if (!add) continue;
    const e = add.inputs.find((t) => !isConstant(c, t, 1));
    if (e === undefined || !add.inputs.some((t) => isConstant(c, t, 1))) continue;
    const erf = producedBy(c, e, 'Erf');
    const z = erf?.inputs[0];
    if (z === undefined) continue;
    const scale = c.producer(z);
    const input = scale && overRootTwo(c, scale);
    if (input !== undefined && xOf(input)) return { x: input, a, z };
  }
  return undefined;
}

/** Whether a constant input holds `v` everywhere. */
export function filledWith(c: RuleContext, name: string, v: number): boolean {
  const values = c.constValues(name);
  return values !== undefined && values.length > 0 && values.every((u) => u === v);
}

/**
 * The C values of a constant that broadcasts per channel against [N, C, ...] of rank `rank`
 * (dims [C, 1, …], [1, C, 1, …] or a single value); undefined for anything else.
 */
function channelValues(c: RuleContext, given: string, channels: number, rank: number): number[] | undefined {
  // The legacy exporter passes shared weights through Identity nodes.
  let name = given;
  for (let n = producedBy(c, name, 'Identity'); n; n = producedBy(c, name, 'Identity')) name = n.inputs[0]!;
  const values = c.constValues(name);
  const dims = c.shape(name);
  if (!values || !dims || dims.length > rank) return undefined;
  if (values.length === 1) return new Array<number>(channels).fill(values[0]!);
  const aligned = [...new Array<number>(rank - dims.length).fill(1), ...dims];
  if (aligned[1] !== channels || aligned.some((d, i) => i !== 1 && d !== 1)) return undefined;
  return values;
}

/** GroupNorm as both exporters write it, matched at its last node (see exportedGroupNorm). */
export interface ExportedGroupNorm {
  /** The normalised tensor, [N, C, ...]. */
  x: string;
  /** The InstanceNormalization over [N, G, M]. */
  norm: Node;
  /** Its output reshaped back to x's dims: x̂ per channel. */
  xhat: string;
  groups: number;
  gamma: number[];
  beta: number[];
}

/**
 * y = x̂ γ + β at the Add, x̂ = reshape(instance_norm(reshape(x, [N, G, M])), dims(x)), the norm's
 * own scale ones and bias zeros, γ and β constants per channel (torch.onnx.export of
 * nn.GroupNorm, legacy and dynamo alike). Needs static dims.
 */
export function exportedGroupNorm(c: RuleContext): ExportedGroupNorm | undefined {
  for (const i of [0, 1]) {
    const mul = producedBy(c, c.input(i), 'Mul');
    if (!mul || mul.inputs.length !== 2) continue;
    for (const j of [0, 1]) {
      const xhat = mul.inputs[j]!;
      const back = producedBy(c, xhat, 'Reshape');
      const norm = producedBy(c, back?.inputs[0], 'InstanceNormalization');
      const front = producedBy(c, norm?.inputs[0], 'Reshape');
      if (!back || !norm || !front) continue;
      const x = front.inputs[0]!;
      const [dims, grouped, out] = [c.shape(x), c.shape(norm.inputs[0]!), c.shape(c.output(0))];
      if (!dims || !grouped || !out || dims.length < 3 || grouped.length !== 3) continue;
      const [n, channels] = dims as [number, number];
      const groups = grouped[1]!;
      const same = (d: readonly number[] | undefined) => d?.length === dims.length && d.every((v, k) => v === dims[k]);
      if (!same(c.shape(xhat)) || !same(out) || grouped[0] !== n || channels % groups !== 0) continue;
      if (grouped[2]! * groups * n !== dims.reduce((p, q) => p * q, 1)) continue;
      if (!filledWith(c, norm.inputs[1]!, 1) || !filledWith(c, norm.inputs[2]!, 0)) continue;
      const gamma = channelValues(c, mul.inputs[1 - j]!, channels, dims.length);
      const beta = channelValues(c, c.input(1 - i), channels, dims.length);
      if (gamma && beta) return { x, norm, xhat, groups, gamma, beta };
    }
  }
  return undefined;
}
