import { InputError } from '../errors.ts';
import { attrFloat, attrInt, attrInts, attrString, attrTensor, makeAttributes } from '../onnx/attributes.ts';
import { GraphBuilder } from '../onnx/builder.ts';
import { pruneModel } from '../onnx/compose.ts';
import { checkTopology, sortTopologically } from '../onnx/topology.ts';
import { DataType, cloneModel, defaultOpset, isFloat, makeTensor, tensorValues } from '../onnx/ir.ts';
import type { Model, Node, Tensor } from '../onnx/ir.ts';
import { foldShapeValues } from './fold.ts';
import { narrowRows } from './narrow.ts';
import { NO_GRADIENT_OPS } from './nograd.ts';
import { inferRanks } from './ranks.ts';
import { findRule, supportedOps } from './registry.ts';
import type { OpRule, RuleContext } from './rule.ts';

/** Static dtype and dims of a tensor (as engine/runtime's resolveShapes returns them). */
export interface StaticShape {
  dataType: number;
  dims: number[];
}

export interface VjpOptions {
  /** The output Y whose vector-Jacobian product is taken. */
  of: string;
  /** Graph inputs X1..Xn to differentiate with respect to. */
  wrt: readonly string[];
  /** Static shapes of tensors (e.g. from resolveShapes); without them rules emit Shape ops where they can. */
  shapes?: ReadonlyMap<string, StaticShape>;
  /**
   * 'input' (default): the cotangent is an input `d_<of>`. 'ones': it is all ones inside the graph, so the
   * outputs are plain gradients of `of` (for a scalar loss: ∂loss/∂x) and no extra input is needed.
   */
  cotangent?: 'input' | 'ones';
  /** Forward tensors to output as well, after `of` and before the gradients (e.g. a denoised estimate). */
  alsoOutput?: readonly string[];
}

export const MIN_OPSET = 11;
export const MAX_OPSET = 21;

/** Name of the cotangent input fed for a forward tensor, and of the gradient output of an input. */
export const gradName = (name: string): string => `d_${name}`;

const STANDARD_DOMAINS = new Set(['', 'ai.onnx']);

function nodeLabel(n: Node): string {
  return n.name ? `node '${n.name}'` : `a node producing '${n.outputs[0] ?? '?'}'`;
}

/** Models narrowRows made, so that vjp narrows once. */
const narrowedModels = new WeakSet<Model>();

/**
 * Reverse-mode transform. Returns a model whose inputs are the original inputs plus `d_<of>`
 * (the cotangent, shaped like `of`; absent with cotangent 'ones') and whose outputs are `<of>`,
 * the `alsoOutput` tensors, and `d_<x>` for each x in wrt.
 * Only nodes between `of` and the wrt inputs are differentiated; weights get no gradient work.
 */
export function vjp(given: Model, options: VjpOptions): Model {
  // The sweeps below walk the node list and need every producer before its readers.
  const model = { ...given, graph: { ...given.graph, nodes: sortTopologically(given.graph) } };
  const opset = defaultOpset(model);
  if (opset < MIN_OPSET || opset > MAX_OPSET) {
    throw new InputError(
      'model',
      `default-domain opset ${opset} is outside the supported ${MIN_OPSET}–${MAX_OPSET}; re-export the model at an opset in that range${opset < MIN_OPSET ? ` or convert it first (upgradeOpset; fiberscope grad --opset ${MIN_OPSET})` : ''}`,
    );
  }
  checkRequest(model, options.of, options.wrt);
  const g = model.graph;
  const { of, wrt } = options;
  const initNames = new Set(g.initializers.map((t) => t.name));
  const graphInputs = g.inputs.filter((v) => !initNames.has(v.name));
  const produced = new Set(g.nodes.flatMap((n) => n.outputs));

  const shapes = staticShapes(model, options.shapes);
  const knownRanks = new Map<string, number>();
  for (const v of [...g.valueInfo, ...g.outputs, ...g.inputs]) if (v.shape) knownRanks.set(v.name, v.shape.length);
  for (const [name, v] of shapes) knownRanks.set(name, v.dims.length);
  const constants = constantTensors(model);
  // Sizes, pads and shapes computed from static shapes in the graph are constants to the rules.
  foldShapeValues(model, (name) => shapes.get(name)?.dims, constants);
  // One row of a tensor read (a ViT's class token): what feeds only that row is computed on it alone.
  if (!narrowedModels.has(given)) {
    const rows = narrowRows(model, shapes, constants, new Set([of, ...wrt, ...(options.alsoOutput ?? [])]));
    if (rows) {
      narrowedModels.add(rows.model);
      return vjp(rows.model, { ...options, shapes: rows.shapes });
    }
  }
  const ranks = inferRanks(model, knownRanks, constants);
  const declaredTypes = new Map<string, number>();
  for (const v of [...g.valueInfo, ...g.outputs, ...g.inputs]) if (v.dataType) declaredTypes.set(v.name, v.dataType);

  const { path, active, needed } = gradientPath(model, of, wrt, (o) => shapes.get(o)?.dataType ?? declaredTypes.get(o));
  const problems = unsupportedOnPath(model, path, opset);
  const first = problems[0];
  if (first) {
    const others =
      problems.length > 1 ? ` (${problems.length} unsupported nodes on the path: ${summarize(problems)})` : '';
    const message =
      first.reason === 'function'
        ? `calls the model-local function ${first.node.domain}::${first.node.opType}; export the model with functions inlined (standard ONNX ops only)`
        : first.reason === 'fused'
          ? `op ${first.node.domain}::${first.node.opType} is a runtime-specific fused operator; export the model without runtime-specific fusions (standard ONNX ops only)`
          : `no gradient rule for op ${first.node.opType} at opset ${opset}. Supported ops: ${supportedOps(opset).join(', ')}; ops treated as constants: ${[...NO_GRADIENT_OPS].sort().join(', ')}`;
    throw new InputError(nodeLabel(first.node), `${message}${others}`);
  }

  const out = cloneModel(model);
  const b = new GraphBuilder(out.graph, opset);
  const interfaceNames = [...(options.cotangent === 'ones' ? [] : [gradName(of)]), ...wrt.map(gradName)];
  for (const n of interfaceNames) {
    if (b.has(n))
      throw new InputError(n, 'the model already uses this name, which the gradient graph needs for its interface');
  }
  b.reserve(...interfaceNames);

  const ofShape = shapes.get(of);
  const ofDecl = [...g.outputs, ...g.inputs].find((v) => v.name === of);
  const ofType = ofShape?.dataType ?? ofDecl?.dataType ?? 0;
  const fallbackType = ofType || (graphInputs.find((v) => v.name === wrt[0])?.dataType ?? DataType.float32);

  const contributions = new Map<string, string[]>();
  const summed = new Map<string, string>();
  const gradOf = (name: string): string | undefined => {
    const done = summed.get(name);
    if (done) return done;
    const parts = contributions.get(name);
    if (!parts || parts.length === 0) return undefined;
    const total = parts.length === 1 ? parts[0]! : b.op('Sum', parts);
    summed.set(name, total);
    return total;
  };
  const contribute = (name: string, grad: string): void => {
    if (summed.has(name)) throw new Error(`internal: gradient of '${name}' contributed after it was summed`);
    const list = contributions.get(name) ?? [];
    list.push(grad);
    contributions.set(name, list);
  };
  const ones = options.cotangent === 'ones';
  const seed = ones
    ? b.op('ConstantOfShape', [b.op('Shape', [of])], { value: makeTensor('value', ofType || fallbackType, [1], [1]) })
    : gradName(of);
  contributions.set(of, [seed]);

  // The forward nodes of the gradient graph, by the model's node (cloneModel keeps the order).
  const copies = new Map(g.nodes.map((n, i) => [n, out.graph.nodes[i]!]));
  const producers = new Map(g.nodes.flatMap((n) => n.outputs.filter(Boolean).map((o) => [o, n] as const)));

  const dtypeOf = (name: string): number => shapes.get(name)?.dataType ?? declaredTypes.get(name) ?? fallbackType;

  for (const n of path) {
    const found = findRule(n.opType, opset)!;
    const dys = n.outputs.map((o) => (o ? gradOf(o) : undefined));
    if (dys.every((d) => d === undefined)) continue;
    runRule(found.rule, found.vjp, n, dys);
  }

  function runRule(rule: OpRule, fn: (ctx: RuleContext) => void, n: Node, dys: (string | undefined)[]): void {
    const diff = rule.differentiable === 'all' ? n.inputs.map((_, i) => i) : rule.differentiable;
    const fail = (message: string): never => {
      throw new InputError(nodeLabel(n), `${n.opType} (opset ${opset}): ${message}`);
    };
    const ctx: RuleContext = {
      node: n,
      opset,
      b,
      input: (i) => n.inputs[i] ?? '',
      output: (i) => n.outputs[i] ?? '',
      forwardOutput: (i) => {
        const copy = copies.get(n)!;
        const have = copy.outputs[i];
        if (have) return have;
        while (copy.outputs.length < i) copy.outputs.push('');
        const name = b.fresh(`${n.outputs[0] || n.opType}_output${i}`);
        copy.outputs[i] = name;
        return name;
      },
      restateForward: (opType, inputs, attrs, outputs, of = n) => {
        const copy = copies.get(of);
        if (!copy) throw new Error(`internal: ${opType} restates a node that is not in the model`);
        if (outputs < copy.outputs.length)
          throw new Error(`internal: ${opType} restates ${of.opType} with fewer outputs`);
        copy.opType = opType;
        copy.domain = '';
        copy.inputs = [...inputs];
        copy.attributes = makeAttributes(attrs);
        while (copy.outputs.length < outputs)
          copy.outputs.push(b.fresh(`${of.outputs[0] || opType}_output${copy.outputs.length}`));
        return [...copy.outputs];
      },
      forwardNode: (opType, inputs, attrs) => {
        const output = b.op(opType, inputs, attrs);
        const nodes = out.graph.nodes;
        const added = nodes.pop()!;
        nodes.splice(nodes.indexOf(copies.get(n)!), 0, added);
        return output;
      },
      producer: (name) => producers.get(name),
      inputCount: n.inputs.length,
      outputCount: n.outputs.length,
      dy: (i = 0) => dys[i],
      needs: (i) => diff.includes(i) && needed.has(n.inputs[i] ?? '') && active.has(n.inputs[i] ?? ''),
      setDx: (i, grad) => {
        const x = n.inputs[i] ?? '';
        if (!ctx.needs(i)) return;
        const reduced = rule.broadcasts ? ctx.reduceToShape(grad, x, shapes.get(n.outputs[0] ?? '')?.dims) : grad;
        contribute(x, reduced);
      },
      needsTensor: (name) => needed.has(name) && active.has(name),
      setDxOf: (name, grad) => {
        if (ctx.needsTensor(name)) contribute(name, grad);
      },
      int: (name, fallback) => attrInt(n, name, fallback),
      float: (name, fallback) => attrFloat(n, name, fallback),
      ints: (name) => attrInts(n, name),
      string: (name, fallback) => attrString(n, name, fallback),
      shape: (name) => shapes.get(name)?.dims,
      requireShape: (name) =>
        shapes.get(name)?.dims ??
        fail(`needs the static shape of '${name}'; give input shapes (e.g. --shape) so that shapes can be resolved`),
      rank: (name) => ranks.get(name) ?? ctx.requireShape(name).length,
      dtype: dtypeOf,
      constValues: (name) => {
        const t = constants.get(name);
        return t ? tensorValues(t) : undefined;
      },
      scalar: (value, like) => b.scalar(value, dtypeOf(like)),
      shapeOf: (name) => {
        const dims = shapes.get(name)?.dims;
        return dims ? b.int64s(dims, 'shape') : b.op('Shape', [name]);
      },
      zerosLike: (name) => b.zerosLike(name, dtypeOf(name)),
      reduceToShape: (grad, like, gradShape) => reduceToShape(b, grad, like, gradShape, shapes.get(like)?.dims, fail),
      fail,
    };
    fn(ctx);
  }

  const outputs = [
    ofDecl && g.outputs.some((v) => v.name === of)
      ? { ...ofDecl }
      : { name: of, dataType: ofType, shape: ofShape?.dims ?? null },
  ];
  for (const x of wrt) {
    const grad = gradOf(x) ?? b.zerosLike(x, dtypeOf(x));
    b.op('Identity', [grad], undefined, gradName(x));
    const decl = graphInputs.find((v) => v.name === x)!;
    outputs.push({ name: gradName(x), dataType: decl.dataType, shape: decl.shape });
  }
  if (!ones)
    out.graph.inputs.push({ name: gradName(of), dataType: ofType, shape: ofShape?.dims ?? ofDecl?.shape ?? null });
  const known = new Map([...g.outputs, ...g.valueInfo].map((v) => [v.name, v]));
  const extra = (options.alsoOutput ?? []).map((name) => {
    if (!produced.has(name) && !graphInputs.some((v) => v.name === name)) {
      throw new InputError(name, 'requested extra output is not a tensor of the model');
    }
    return (
      known.get(name) ?? { name, dataType: shapes.get(name)?.dataType ?? 0, shape: shapes.get(name)?.dims ?? null }
    );
  });
  out.graph.outputs = [outputs[0]!, ...extra, ...outputs.slice(1)];
  out.graph.valueInfo = [];
  const gradient = pruneModel(out, { keepInputs: true });
  checkTopology(gradient.graph, 'gradient graph');
  return gradient;
}

interface GradientPath {
  /** Nodes to differentiate, in reverse topological order. */
  path: Node[];
  /** Tensors that depend differentiably on the wrt inputs. */
  active: Set<string>;
  /** Active tensors that `of` depends on. */
  needed: Set<string>;
}

/**
 * Nodes between `of` and the wrt inputs: a forward sweep marks tensors that depend differentiably
 * on the inputs (stopping at gradient-free ops and non-float results), a backward sweep keeps
 * those that `of` depends on.
 */
function gradientPath(
  model: Model,
  of: string,
  wrt: readonly string[],
  typeOf: (name: string) => number | undefined,
): GradientPath {
  const g = model.graph;
  const opset = defaultOpset(model);
  const active = new Set<string>(wrt);
  const activeNodes = new Set<Node>();
  for (const n of g.nodes) {
    if (NO_GRADIENT_OPS.has(n.opType) && STANDARD_DOMAINS.has(n.domain)) continue;
    const rule = STANDARD_DOMAINS.has(n.domain) ? findRule(n.opType, opset) : undefined;
    const diff = rule?.rule.differentiable ?? 'all';
    const idx = diff === 'all' ? n.inputs.map((_, i) => i) : diff;
    if (!idx.some((i) => active.has(n.inputs[i] ?? ''))) continue;
    activeNodes.add(n);
    for (const o of n.outputs) {
      // Integer and boolean results carry no gradient (a cast to int is piecewise constant).
      const dt = typeOf(o) ?? (n.opType === 'Cast' ? attrInt(n, 'to') : undefined);
      if (o && (dt === undefined || isFloat(dt))) active.add(o);
    }
  }
  const path: Node[] = [];
  const needed = new Set<string>([of]);
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i]!;
    if (!activeNodes.has(n) || !n.outputs.some((o) => needed.has(o))) continue;
    path.push(n);
    for (const input of n.inputs) if (active.has(input)) needed.add(input);
  }
  return { path, active, needed };
}

export interface UnsupportedNode {
  node: Node;
  /**
   * 'fused': an op of a non-standard domain; 'function': a call of a model-local function; 'no rule':
   * a standard op without a gradient rule at the opset.
   */
  reason: 'fused' | 'function' | 'no rule';
}

function unsupportedOnPath(model: Model, path: readonly Node[], opset: number): UnsupportedNode[] {
  const functions = new Set((model.functions ?? []).map((f) => `${f.domain ?? ''}::${f.name ?? ''}`));
  const out: UnsupportedNode[] = [];
  for (const node of [...path].reverse()) {
    if (functions.has(`${node.domain}::${node.opType}`)) out.push({ node, reason: 'function' });
    else if (!STANDARD_DOMAINS.has(node.domain)) out.push({ node, reason: 'fused' });
    else if (!findRule(node.opType, opset)) out.push({ node, reason: 'no rule' });
  }
  return out;
}

function summarize(problems: readonly UnsupportedNode[]): string {
  const counts = new Map<string, number>();
  for (const p of problems) {
    const key = p.node.domain ? `${p.node.domain}::${p.node.opType}` : p.node.opType;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([op, n]) => `${op} ×${n}`).join(', ');
}

/**
 * Every node between `of` and the wrt inputs that the transform cannot differentiate, in graph
 * order: for bundle checks that report all problems at once. Empty when vjp can proceed.
 */
export function unsupportedNodes(model: Model, options: { of: string; wrt: readonly string[] }): UnsupportedNode[] {
  checkRequest(model, options.of, options.wrt);
  const types = new Map<string, number>();
  const g = model.graph;
  for (const v of [...g.valueInfo, ...g.outputs, ...g.inputs]) if (v.dataType) types.set(v.name, v.dataType);
  for (const t of g.initializers) types.set(t.name, t.dataType);
  const { path } = gradientPath(model, options.of, options.wrt, (o) => types.get(o));
  return unsupportedOnPath(model, path, defaultOpset(model));
}

/** Refuses an unknown output, unknown or weight inputs, and an empty or repeated wrt list. */
export function checkRequest(model: Model, of: string, wrt: readonly string[]): void {
  const g = model.graph;
  const initNames = new Set(g.initializers.map((t) => t.name));
  const graphInputs = g.inputs.filter((v) => !initNames.has(v.name));
  const produced = new Set(g.nodes.flatMap((n) => n.outputs));
  if (!produced.has(of) && !graphInputs.some((v) => v.name === of)) {
    throw new InputError(of, `no such output in the model (outputs: ${g.outputs.map((v) => v.name).join(', ')})`);
  }
  if (wrt.length === 0) throw new InputError('wrt', 'name at least one input to differentiate with respect to');
  for (const x of wrt) {
    if (!graphInputs.some((v) => v.name === x)) {
      throw new InputError(
        x,
        `not an input of the model (inputs: ${graphInputs.map((v) => v.name).join(', ')}); weights get no gradients`,
      );
    }
  }
  if (new Set(wrt).size !== wrt.length) throw new InputError('wrt', 'an input is named twice');
  if (wrt.includes(of)) throw new InputError(of, 'is both the output and an input to differentiate with respect to');
}

/** Sums a broadcast gradient back to a tensor's shape; static axes when shapes are known, else computed in the graph. */
function reduceToShape(
  b: GraphBuilder,
  grad: string,
  like: string,
  gradDims: readonly number[] | undefined,
  likeDims: readonly number[] | undefined,
  fail: (m: string) => never,
): string {
  if (gradDims && likeDims) {
    if (gradDims.length === likeDims.length && gradDims.every((d, i) => d === likeDims[i])) return grad;
    const lead = gradDims.length - likeDims.length;
    const axes: number[] = [];
    for (let i = 0; i < gradDims.length; i++) {
      if (i < lead || (likeDims[i - lead] === 1 && gradDims[i] !== 1)) axes.push(i);
    }
    const summed = axes.length ? b.reduceSum(grad, axes, true) : grad;
    return lead > 0 || axes.length === 0 ? b.op('Reshape', [summed, b.int64s(likeDims, 'shape')]) : summed;
  }
  if (b.opset < 13)
    fail(`needs static shapes to undo broadcasting below opset 13; give input shapes so that shapes can be resolved`);
  const gradShape = b.op('Shape', [grad]);
  const likeShape = b.op('Shape', [like]);
  const pad = b.op('Sub', [b.op('Size', [gradShape]), b.op('Size', [likeShape])]);
  const ones = b.op('ConstantOfShape', [b.unsqueeze(pad, [0])], {
    value: makeTensor('value', DataType.int64, [1], [1]),
  });
  const padded = b.op('Concat', [ones, likeShape], { axis: 0 });
  const axes = b.op('Reshape', [
    b.op('NonZero', [b.op('Equal', [padded, b.scalar(1, DataType.int64)])]),
    b.int64s([-1], 'shape'),
  ]);
  const summed = b.op('ReduceSum', [grad, axes], { keepdims: 1, noop_with_empty_axes: 1 });
  return b.op('Reshape', [summed, likeShape]);
}

/** Declared static shapes (inputs, outputs, value_info, initializers) under the caller's resolved ones. */
function staticShapes(model: Model, given: ReadonlyMap<string, StaticShape> | undefined): Map<string, StaticShape> {
  const out = new Map<string, StaticShape>();
  const g = model.graph;
  for (const v of [...g.valueInfo, ...g.outputs, ...g.inputs]) {
    if (v.dataType && v.shape && v.shape.every((d) => typeof d === 'number'))
      out.set(v.name, { dataType: v.dataType, dims: v.shape as number[] });
  }
  for (const t of g.initializers) out.set(t.name, { dataType: t.dataType, dims: [...t.dims] });
  for (const [k, v] of given ?? []) out.set(k, v);
  return out;
}

/** Initializers and Constant-node outputs: tensors whose values rules may read (shapes, axes, indices). */
function constantTensors(model: Model): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const t of model.graph.initializers) out.set(t.name, t);
  for (const n of model.graph.nodes) {
    if (n.opType !== 'Constant' || !STANDARD_DOMAINS.has(n.domain)) continue;
    const name = n.outputs[0] ?? '';
    const t = attrTensor(n, 'value');
    if (t) out.set(name, { ...t, name });
    const ints = attrInts(n, 'value_ints');
    if (ints) out.set(name, makeTensor(name, DataType.int64, [ints.length], ints));
    const i = attrInt(n, 'value_int');
    if (i !== undefined) out.set(name, makeTensor(name, DataType.int64, [], [i]));
    const f = attrFloat(n, 'value_float');
    if (f !== undefined) out.set(name, makeTensor(name, DataType.float32, [], [f]));
  }
  return out;
}
