import { makeAttributes } from './attributes.ts';
import type { Attrs } from './attributes.ts';
import { DataType, defaultOpset, makeTensor, numel, tensorNames } from './ir.ts';
import type { Graph, Model, Node, Tensor } from './ir.ts';

export interface NodeOptions {
  /** Output count (fresh names) or explicit output names; default one fresh output. */
  outputs?: number | string[];
  domain?: string;
  name?: string;
}

/**
 * Appends nodes and initializers to a graph with names that collide with nothing in it, and emits
 * the ops whose signature changed across opsets (axes as attribute before 13, as input from 13)
 * in the form the graph's opset expects.
 */
export class GraphBuilder {
  readonly graph: Graph;
  readonly opset: number;
  private readonly used: Set<string>;
  /** Shared constants (scalar, filled) by value, type and dims. */
  private readonly shared = new Map<string, string>();
  private counter = 0;

  constructor(graph: Graph, opset: number) {
    this.graph = graph;
    this.opset = opset;
    this.used = tensorNames(graph);
    for (const n of graph.nodes) if (n.name) this.used.add(n.name);
  }

  static forModel(model: Model): GraphBuilder {
    return new GraphBuilder(model.graph, defaultOpset(model));
  }

  /** A name not used in the graph, built from a hint. */
  fresh(hint: string): string {
    const base = hint.replace(/[^A-Za-z0-9_./:-]/g, '_') || 't';
    let name = base;
    while (this.used.has(name)) name = `${base}_${++this.counter}`;
    this.used.add(name);
    return name;
  }

  /** Marks names as taken (e.g. interface names the caller will create). */
  reserve(...names: string[]): void {
    for (const n of names) this.used.add(n);
  }

  has(name: string): boolean {
    return this.used.has(name);
  }

  add(opType: string, inputs: readonly string[], attrs?: Attrs, options: NodeOptions = {}): string[] {
    const outs = options.outputs ?? 1;
    const outputs =
      typeof outs === 'number' ? Array.from({ length: outs }, () => this.fresh(opType.toLowerCase())) : outs;
    for (const o of outputs) this.used.add(o);
    const node: Node = {
      name: options.name ?? this.fresh(`${opType}_node`),
      opType,
      domain: options.domain ?? '',
      inputs: [...inputs],
      outputs,
      attributes: makeAttributes(attrs),
    };
    this.graph.nodes.push(node);
    return outputs;
  }

  /** One node with one output; returns the output's name. */
  op(opType: string, inputs: readonly string[], attrs?: Attrs, output?: string): string {
    return this.add(opType, inputs, attrs, output ? { outputs: [output] } : {})[0] as string;
  }

  initializer(tensor: Tensor): string {
    if (this.graph.initializers.some((t) => t.name === tensor.name))
      throw new Error(`initializer '${tensor.name}' exists`);
    this.used.add(tensor.name);
    this.graph.initializers.push(tensor);
    return tensor.name;
  }

  constant(dataType: number, dims: readonly number[], values: ArrayLike<number>, hint = 'const'): string {
    return this.initializer(makeTensor(this.fresh(hint), dataType, dims, values));
  }

  /** A rank-0 constant, shared by every use of the same value and type. */
  scalar(value: number, dataType: number): string {
    return this.filled(value, dataType, []);
  }

  /** A constant of `dims` holding `value` everywhere, shared by every use of the same value, type and dims. */
  filled(value: number, dataType: number, dims: readonly number[]): string {
    const key = `${dataType}:${Object.is(value, -0) ? '-0' : value}:${dims.join('x')}`;
    let name = this.shared.get(key);
    if (!name) {
      name = this.constant(
        dataType,
        dims,
        new Array<number>(numel(dims)).fill(value),
        dims.length ? 'filled' : 'scalar',
      );
      this.shared.set(key, name);
    }
    return name;
  }

  int64s(values: readonly number[], hint = 'ints'): string {
    return this.constant(DataType.int64, [values.length], values, hint);
  }

  /**
   * A Reduce* op over the given axes; axes become an input from opset 13 for ReduceSum and from 18
   * for the others. Empty axes reduce over all axes.
   */
  reduce(op: `Reduce${string}`, x: string, axes: readonly number[], keepdims: boolean): string {
    const k = keepdims ? 1 : 0;
    const axesAsInput = this.opset >= (op === 'ReduceSum' ? 13 : 18);
    if (axes.length === 0) return this.op(op, [x], { keepdims: k });
    if (axesAsInput) return this.op(op, [x, this.int64s(axes, 'axes')], { keepdims: k });
    return this.op(op, [x], { axes: [...axes], keepdims: k });
  }

  reduceSum(x: string, axes: readonly number[], keepdims: boolean): string {
    return this.reduce('ReduceSum', x, axes, keepdims);
  }

  squeeze(x: string, axes: readonly number[]): string {
    if (this.opset >= 13) return this.op('Squeeze', [x, this.int64s(axes, 'axes')]);
    return this.op('Squeeze', [x], { axes: [...axes] });
  }

  unsqueeze(x: string, axes: readonly number[]): string {
    if (this.opset >= 13) return this.op('Unsqueeze', [x, this.int64s(axes, 'axes')]);
    return this.op('Unsqueeze', [x], { axes: [...axes] });
  }

  /** Splits along an axis into pieces of the given static sizes. */
  split(x: string, axis: number, sizes: readonly number[]): string[] {
    if (this.opset >= 13)
      return this.add('Split', [x, this.int64s(sizes, 'split')], { axis }, { outputs: sizes.length });
    return this.add('Split', [x], { axis, split: [...sizes] }, { outputs: sizes.length });
  }

  /** Zeros shaped like a tensor, of the given type (ConstantOfShape of its runtime shape). */
  zerosLike(x: string, dataType: number): string {
    return this.op('ConstantOfShape', [this.op('Shape', [x])], { value: makeTensor('value', dataType, [1], [0]) });
  }
}
