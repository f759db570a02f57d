import type { Attrs } from '../onnx/attributes.ts';
import type { GraphBuilder } from '../onnx/builder.ts';
import type { Node } from '../onnx/ir.ts';

/**
 * What a gradient rule sees: one forward node, the cotangents of its outputs, and helpers that
 * emit standard ONNX ops at the model's opset. A rule reads, emits and calls setDx; the driver
 * sums fan-out, reduces broadcasts (for rules marked `broadcasts`) and wires names.
 */
export interface RuleContext {
  readonly node: Node;
  /** Default-domain opset of the model. */
  readonly opset: number;
  /** Emits nodes and constants with fresh names (builder.op, reduceSum, squeeze, ...). */
  readonly b: GraphBuilder;

  /** Name of input i ('' when an optional input is absent). */
  input(i: number): string;
  output(i: number): string;
  /**
   * Name of output i of the forward node in the gradient graph, made to exist: an optional output
   * the model left out (LayerNormalization's Mean, MaxPool's Indices) is added to the forward
   * node itself, so that the backward reads what the forward pass computes anyway.
   */
  forwardOutput(i: number): string;
  /**
   * Has the gradient graph compute this node's outputs with another default-domain op that
   * computes the same outputs plus more (an InstanceNormalization as a LayerNormalization that
   * also returns its statistics); returns every output's name, the node's own first. The model's
   * node is left as it is; its inputs must already exist in the graph (its own, or constants).
   * `of` restates another node of a pattern this rule differentiates whole (default: this node).
   */
  restateForward(opType: string, inputs: readonly string[], attrs: Attrs, outputs: number, of?: Node): string[];
  /**
   * Adds a default-domain node to the forward pass of the gradient graph just before this node's
   * own copy, for restateForward's inputs (a Conv computed as phases at low resolution); returns
   * its output. Its inputs must already exist there (the node's own inputs, or constants).
   */
  forwardNode(opType: string, inputs: readonly string[], attrs?: Attrs): string;
  /** The forward node producing a tensor (undefined for inputs, initializers and absent names). */
  producer(name: string): Node | undefined;
  readonly inputCount: number;
  readonly outputCount: number;

  /** Cotangent of output i, or undefined when no gradient flows into it. */
  dy(i?: number): string | undefined;
  /** Whether anyone needs the gradient of input i (skip the work otherwise). */
  needs(i: number): boolean;
  /** Contributes the gradient of input i. */
  setDx(i: number, grad: string): void;
  /**
   * Whether the gradient of a tensor upstream of this node is needed, and contributes it: for a
   * rule that differentiates a whole pattern ending at this node (x·σ(x), the erf GELU) at once.
   * The pattern's inner tensors then get no gradient from this node.
   */
  needsTensor(name: string): boolean;
  setDxOf(name: string, grad: string): void;

  int(name: string, fallback: number): number;
  float(name: string, fallback: number): number;
  ints(name: string): number[] | undefined;
  string(name: string, fallback: string): string;

  /** Static dims of a tensor when known. */
  shape(name: string): number[] | undefined;
  /** Static dims, or an error naming the node when they are unknown. */
  requireShape(name: string): number[];
  /** Rank of a tensor (from static shapes or declared value info), or an error naming the node. */
  rank(name: string): number;
  /** ONNX data type of a tensor. */
  dtype(name: string): number;
  /** Values of a constant tensor (initializer or Constant output), when it is one. */
  constValues(name: string): number[] | undefined;

  /** A rank-0 constant with the data type of `like`. */
  scalar(value: number, like: string): string;
  /** An int64 tensor holding the dims of `name`: a constant when static, else a Shape node. */
  shapeOf(name: string): string;
  zerosLike(name: string): string;
  /** Sums `grad` down to the shape of `like` (numpy broadcasting undone). */
  reduceToShape(grad: string, like: string, gradShape?: readonly number[]): string;
  /** Throws an error naming this node and its op. */
  fail(message: string): never;
}

export type VjpFunction = (ctx: RuleContext) => void;

export interface OpRule {
  /** ONNX op type in the default domain. */
  op: string;
  /** Inputs that carry gradients; others (shapes, indices, axes) are treated as constants. */
  differentiable: readonly number[] | 'all';
  /**
   * Marks elementwise-broadcasting ops: each setDx grad has output 0's shape and the driver
   * reduces it to the input's shape.
   */
  broadcasts?: boolean;
  /** Variants by the opset they apply from; the driver picks the highest `since` not above the model's opset. */
  versions: readonly { since: number; vjp: VjpFunction }[];
}
