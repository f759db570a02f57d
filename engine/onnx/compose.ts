import { InputError } from '../errors.ts';
import { cloneModel, defaultOpset, tensorNames } from './ir.ts';
import { upgradeOpset } from './opset.ts';
import type { Graph, Model, Tensor, ValueInfo } from './ir.ts';

/** A copy of the model with tensor names mapped; names the function leaves undefined stay. Node names follow. */
export function renameTensors(model: Model, rename: (name: string) => string | undefined): Model {
  const m = cloneModel(model);
  const r = (n: string): string => (n === '' ? n : (rename(n) ?? n));
  const g = m.graph;
  for (const n of g.nodes) {
    n.inputs = n.inputs.map(r);
    n.outputs = n.outputs.map(r);
  }
  for (const list of [g.inputs, g.outputs, g.valueInfo]) for (const v of list) v.name = r(v.name);
  for (const t of g.initializers) t.name = r(t.name);
  return m;
}

/** Prefixes every tensor and node name (except `keep`), so that two models can share one graph. */
export function prefixNames(model: Model, prefix: string, keep: Iterable<string> = []): Model {
  const kept = new Set(keep);
  const m = renameTensors(model, (n) => (kept.has(n) ? undefined : `${prefix}${n}`));
  for (const n of m.graph.nodes) if (n.name) n.name = `${prefix}${n.name}`;
  return m;
}

function mergeOpsets(a: Model, b: Model): Record<string, number> {
  const out = { ...a.opsets };
  for (const [domain, v] of Object.entries(b.opsets)) {
    const prev = out[domain];
    if (prev !== undefined && prev !== v) {
      throw new InputError(
        'opset',
        `cannot compose models of ${domain || 'ai.onnx'} opset ${prev} and ${v}: operators changed between versions; pass opsets: 'upgrade' to convert the lower one, or export both at one opset`,
      );
    }
    out[domain] = v;
  }
  return out;
}

function sameBytes(a: Tensor, b: Tensor): boolean {
  if (a.dataType !== b.dataType || a.dims.join() !== b.dims.join() || a.raw.length !== b.raw.length) return false;
  return Buffer.from(a.raw.buffer, a.raw.byteOffset, a.raw.byteLength).equals(
    Buffer.from(b.raw.buffer, b.raw.byteOffset, b.raw.byteLength),
  );
}

/** Initializers of both lists; a name in both must hold identical data. */
export function mergeInitializers(a: readonly Tensor[], b: readonly Tensor[]): Tensor[] {
  const byName = new Map(a.map((t) => [t.name, t]));
  const out = [...a];
  for (const t of b) {
    const prev = byName.get(t.name);
    if (!prev) {
      out.push(t);
      byName.set(t.name, t);
    } else if (!sameBytes(prev, t)) {
      throw new InputError(
        t.name,
        'two composed graphs define this initializer with different data; prefix one of them',
      );
    }
  }
  return out;
}

export interface ConnectOptions {
  /** Outputs of the composed model; default: the second model's outputs. Any tensor of either may be named. */
  outputs?: string[];
  /** 'upgrade' converts the model of lower default opset to the other's (upgradeOpset); default: they must match. */
  opsets?: 'equal' | 'upgrade';
}

/**
 * Feeds outputs of `first` into inputs of `second`: `links` maps a second-model input to a
 * first-model tensor. Names of the two models must not clash apart from shared identical
 * initializers and shared inputs (prefix one model first). The composed inputs are the first
 * model's inputs plus the second's unlinked ones.
 */
export function connect(
  firstModel: Model,
  secondModel: Model,
  links: Record<string, string>,
  options: ConnectOptions = {},
): Model {
  let [first, second] = [firstModel, secondModel];
  if (options.opsets === 'upgrade') {
    const target = Math.max(defaultOpset(first), defaultOpset(second));
    [first, second] = [upgradeOpset(first, target), upgradeOpset(second, target)];
  }
  const a = first.graph;
  const b = second.graph;
  const aNames = tensorNames(a);
  const bInputs = new Set(b.inputs.map((v) => v.name));
  for (const [input, output] of Object.entries(links)) {
    if (!bInputs.has(input))
      throw new InputError(input, `not an input of the second graph (inputs: ${[...bInputs].join(', ')})`);
    if (!aNames.has(output)) throw new InputError(output, 'not a tensor of the first graph');
  }
  const aInputs = new Set(a.inputs.map((v) => v.name));
  const aInits = new Set(a.initializers.map((t) => t.name));
  const bInits = new Set(b.initializers.map((t) => t.name));
  for (const n of tensorNames(b)) {
    if (n in links || !aNames.has(n)) continue;
    const sharedInput = aInputs.has(n) && bInputs.has(n);
    const sharedInit = aInits.has(n) && bInits.has(n);
    if (!sharedInput && !sharedInit)
      throw new InputError(n, 'both composed graphs use this tensor name; prefix one of them');
  }
  const linked = renameTensors(second, (n) => links[n]);
  const g: Graph = {
    name: `${a.name}+${b.name}`,
    nodes: [...a.nodes, ...linked.graph.nodes],
    inputs: [...a.inputs, ...b.inputs.filter((v) => !(v.name in links) && !aInputs.has(v.name))],
    outputs: [],
    initializers: mergeInitializers(a.initializers, linked.graph.initializers),
    valueInfo: [...a.valueInfo, ...linked.graph.valueInfo],
  };
  const known = new Map<string, ValueInfo>();
  for (const v of [...a.outputs, ...linked.graph.outputs, ...g.valueInfo]) known.set(v.name, v);
  const outputNames = options.outputs ?? linked.graph.outputs.map((v) => v.name);
  const all = tensorNames(g);
  g.outputs = outputNames.map((n) => {
    if (!all.has(n)) throw new InputError(n, 'requested output is not a tensor of the composed graph');
    return known.get(n) ?? { name: n, dataType: 0, shape: null };
  });
  return {
    ...first,
    opsets: mergeOpsets(first, second),
    metadata: { ...second.metadata, ...first.metadata },
    functions: mergeFunctions(first, second),
    graph: g,
  };
}

function mergeFunctions(a: Model, b: Model): NonNullable<Model['functions']> {
  const key = (f: NonNullable<Model['functions']>[number]): string => `${f.domain ?? ''}::${f.name ?? ''}`;
  const seen = new Set((a.functions ?? []).map(key));
  return [...(a.functions ?? []), ...(b.functions ?? []).filter((f) => !seen.has(key(f)))];
}

/** Keeps only the nodes and initializers the outputs depend on (and inputs they read, unless keepInputs). */
export function pruneModel(model: Model, options: { outputs?: string[]; keepInputs?: boolean } = {}): Model {
  const m = cloneModel(model);
  const g = m.graph;
  if (options.outputs) {
    const byName = new Map([...g.outputs, ...g.valueInfo].map((v) => [v.name, v]));
    g.outputs = options.outputs.map((n) => byName.get(n) ?? { name: n, dataType: 0, shape: null });
  }
  const needed = new Set(g.outputs.map((v) => v.name));
  const kept: boolean[] = new Array<boolean>(g.nodes.length).fill(false);
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i]!;
    if (!n.outputs.some((o) => needed.has(o))) continue;
    kept[i] = true;
    for (const input of n.inputs) if (input) needed.add(input);
    for (const s of subgraphInputs(n)) needed.add(s);
  }
  g.nodes = g.nodes.filter((_, i) => kept[i]);
  g.initializers = g.initializers.filter((t) => needed.has(t.name));
  if (!options.keepInputs) g.inputs = g.inputs.filter((v) => needed.has(v.name));
  const names = tensorNames(g);
  g.valueInfo = g.valueInfo.filter((v) => names.has(v.name));
  return m;
}

/** Outer-scope names read by subgraph attributes (If/Loop bodies), which pruning must keep. */
function subgraphInputs(n: Graph['nodes'][number]): string[] {
  const out: string[] = [];
  for (const a of n.attributes) {
    for (const sg of [a.g, ...(a.graphs ?? [])]) {
      if (!sg) continue;
      for (const sn of sg.node ?? []) out.push(...(sn.input ?? []));
    }
  }
  return out;
}
