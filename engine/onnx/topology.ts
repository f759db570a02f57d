import { InputError } from '../errors.ts';
import type { OnnxTypes } from './proto.ts';
import type { Graph, Node } from './ir.ts';

function nodeLabel(n: Node): string {
  return n.name ? `node '${n.name}' (${n.opType})` : `a ${n.opType} node producing '${n.outputs[0] ?? '?'}'`;
}

/** Names a subgraph (If/Loop/Scan body) reads from the scopes around it. */
function outerReferences(g: OnnxTypes.IGraphProto, out: Set<string>): void {
  const local = new Set<string>([
    ...(g.input ?? []).map((v) => v.name ?? ''),
    ...(g.initializer ?? []).map((t) => t.name ?? ''),
    ...(g.sparseInitializer ?? []).map((t) => t.values?.name ?? ''),
  ]);
  for (const n of g.node ?? []) {
    const inner = new Set<string>();
    for (const a of n.attribute ?? []) for (const sg of [a.g, ...(a.graphs ?? [])]) if (sg) outerReferences(sg, inner);
    for (const i of [...(n.input ?? []), ...inner]) if (i && !local.has(i)) out.add(i);
    for (const o of n.output ?? []) if (o) local.add(o);
  }
  for (const v of g.output ?? []) if (v.name && !local.has(v.name)) out.add(v.name);
}

/** Every tensor a node reads: its inputs and the outer-scope names its subgraphs use. */
function reads(n: Node): string[] {
  const outer = new Set<string>();
  for (const a of n.attributes) for (const sg of [a.g, ...(a.graphs ?? [])]) if (sg) outerReferences(sg, outer);
  return [...n.inputs.filter(Boolean), ...outer];
}

/**
 * The graph's nodes in an order where every node comes after the producers of what it reads,
 * as close to the given order as possible (the same array when it already is one). ONNX Runtime
 * sorts graphs itself and accepts any order; the passes here (gradient path, pruning) walk the
 * node list and need producers first. A read that no node produces is left for checkTopology.
 */
export function sortTopologically(graph: Graph): Node[] {
  const producer = new Map<string, number>();
  graph.nodes.forEach((n, i) => n.outputs.forEach((o) => o && producer.set(o, i)));
  const deps = graph.nodes.map((n) =>
    reads(n)
      .map((name) => producer.get(name))
      .filter((p): p is number => p !== undefined),
  );
  if (deps.every((d, i) => d.every((p) => p < i))) return graph.nodes;
  const state = new Uint8Array(graph.nodes.length); // 0 new, 1 on the stack, 2 emitted
  const order: Node[] = [];
  for (let root = 0; root < graph.nodes.length; root++) {
    if (state[root]) continue;
    const stack: { node: number; next: number }[] = [{ node: root, next: 0 }];
    state[root] = 1;
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      const d = deps[top.node]!;
      if (top.next < d.length) {
        const p = d[top.next++]!;
        if (state[p] === 1)
          throw new InputError(nodeLabel(graph.nodes[p]!), 'the graph has a cycle through this node');
        if (state[p] === 0) {
          state[p] = 1;
          stack.push({ node: p, next: 0 });
        }
        continue;
      }
      state[top.node] = 2;
      order.push(graph.nodes[top.node]!);
      stack.pop();
    }
  }
  return order;
}

/**
 * Refuses a graph that ONNX Runtime and the ONNX checker would refuse at load: a node reading a
 * tensor that is no graph input, initializer or output of an earlier node, a tensor produced
 * twice, or a graph output nothing produces. The error names the node and the missing input.
 */
export function checkTopology(graph: Graph, source = 'model'): void {
  const defined = new Set<string>([...graph.inputs.map((v) => v.name), ...graph.initializers.map((t) => t.name)]);
  const producedBy = new Map<string, Node>();
  for (const n of graph.nodes) for (const o of n.outputs) if (o && !producedBy.has(o)) producedBy.set(o, n);
  for (const n of graph.nodes) {
    for (const name of reads(n)) {
      if (defined.has(name)) continue;
      const later = producedBy.get(name);
      throw new InputError(
        `${source}: ${nodeLabel(n)}`,
        `input '${name}' is not a graph input, an initializer or an output of an earlier node` +
          (later ? ` (${nodeLabel(later)} produces it later: the nodes are out of order)` : ' (no node produces it)'),
      );
    }
    for (const o of n.outputs) {
      if (!o) continue;
      if (defined.has(o)) throw new InputError(`${source}: ${nodeLabel(n)}`, `output '${o}' is already defined`);
      defined.add(o);
    }
  }
  for (const v of graph.outputs) {
    if (!defined.has(v.name))
      throw new InputError(`${source}: graph output '${v.name}'`, 'no node produces it and it is no input or initializer');
  }
}
