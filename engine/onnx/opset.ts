import { InputError } from '../errors.ts';
import { attrFloat, attrInt, attrInts, attrString, makeAttributes } from './attributes.ts';
import type { Attrs } from './attributes.ts';
import { GraphBuilder } from './builder.ts';
import { DataType, cloneModel, defaultOpset, isFloat } from './ir.ts';
import type { Attribute, Model, Node } from './ir.ts';

/** Reduce ops whose axes moved from attribute to input at opset 18 (ReduceSum moved at 13). */
const REDUCE_18 = new Set([
  'ReduceL1',
  'ReduceL2',
  'ReduceLogSum',
  'ReduceLogSumExp',
  'ReduceMax',
  'ReduceMean',
  'ReduceMin',
  'ReduceProd',
  'ReduceSumSquare',
]);

/** Converting below these is not supported (Upsample and BatchNormalization changed meaning before 9). */
export const MIN_UPGRADE_OPSET = 9;

function without(node: Node, ...names: string[]): Attribute[] {
  return node.attributes.filter((a) => !names.includes(a.name ?? ''));
}

function withAttrs(node: Node, drop: string[], add: Attrs): Attribute[] {
  return [...without(node, ...drop, ...Object.keys(add)), ...makeAttributes(add)];
}

/**
 * Rewrites a model to a higher default-domain opset, converting the operators whose signature or
 * meaning changed on the way (axes, pads, split sizes and clip bounds from attributes to inputs,
 * Softmax's 2-D coercion, Upsample and opset-10 Resize to Resize-11). Other ops keep their form,
 * which the ONNX versioning rules guarantee is valid at the higher opset. Lets models exported at
 * different opsets be composed, and old exports be differentiated.
 */
export function upgradeOpset(model: Model, target: number): Model {
  const from = defaultOpset(model);
  if (target < from) throw new InputError('opset', `cannot lower opset ${from} to ${target}`);
  if (target === from) return model;
  if (from < MIN_UPGRADE_OPSET) {
    throw new InputError(
      'opset',
      `models below opset ${MIN_UPGRADE_OPSET} cannot be upgraded (this one has ${from}); re-export the model`,
    );
  }
  const out = cloneModel(model);
  const g = out.graph;
  const b = new GraphBuilder(g, target);
  const nodes = g.nodes;
  g.nodes = [];
  const crosses = (v: number): boolean => from < v && target >= v;
  const types = floatTypes(model);
  const typeOf = (name: string): number => types.get(name) ?? DataType.float32;
  for (const n of nodes) {
    if (n.domain !== '' && n.domain !== 'ai.onnx') {
      g.nodes.push(n);
      continue;
    }
    const label = n.name ? `node '${n.name}'` : `a node producing '${n.outputs[0] ?? '?'}'`;
    const axes = attrInts(n, 'axes');
    if ((n.opType === 'Squeeze' || n.opType === 'Unsqueeze' || n.opType === 'ReduceSum') && crosses(13)) {
      n.inputs = [n.inputs[0] ?? '', axes ? b.int64s(axes, 'axes') : ''];
      n.attributes = without(n, 'axes');
      while (n.inputs.at(-1) === '') n.inputs.pop();
    } else if (REDUCE_18.has(n.opType) && crosses(18)) {
      n.inputs = axes ? [n.inputs[0] ?? '', b.int64s(axes, 'axes')] : [n.inputs[0] ?? ''];
      n.attributes = without(n, 'axes');
    } else if (n.opType === 'Split' && crosses(13)) {
      const split = attrInts(n, 'split');
      if (split) n.inputs = [n.inputs[0] ?? '', b.int64s(split, 'split')];
      n.attributes = without(n, 'split');
    } else if ((n.opType === 'Softmax' || n.opType === 'LogSoftmax' || n.opType === 'Hardmax') && crosses(13)) {
      // Before 13 these flatten to 2-D at `axis` (default 1) and normalise the second dim.
      const axis = attrInt(n, 'axis', 1);
      if (axis !== -1) {
        const x = n.inputs[0] ?? '';
        const flat = b.op('Flatten', [x], { axis });
        const y = b.op(n.opType, [flat], { axis: -1 });
        g.nodes.push({ ...n, opType: 'Reshape', inputs: [y, b.op('Shape', [x])], attributes: [] });
        continue;
      }
    } else if (n.opType === 'Clip' && crosses(11)) {
      const t = typeOf(n.inputs[0] ?? '');
      const lo = attrFloat(n, 'min');
      const hi = attrFloat(n, 'max');
      n.inputs = [n.inputs[0] ?? '', lo === undefined ? '' : b.scalar(lo, t), hi === undefined ? '' : b.scalar(hi, t)];
      while (n.inputs.at(-1) === '') n.inputs.pop();
      n.attributes = without(n, 'min', 'max');
    } else if (n.opType === 'Pad' && crosses(11)) {
      const pads = attrInts(n, 'pads') ?? [];
      const value = attrFloat(n, 'value', 0);
      n.inputs = [
        n.inputs[0] ?? '',
        b.int64s(pads, 'pads'),
        ...(value !== 0 ? [b.scalar(value, typeOf(n.inputs[0] ?? ''))] : []),
      ];
      n.attributes = without(n, 'pads', 'value');
    } else if (n.opType === 'Slice' && crosses(10)) {
      const starts = attrInts(n, 'starts') ?? [];
      const ends = attrInts(n, 'ends') ?? [];
      const sliceAxes = attrInts(n, 'axes');
      n.inputs = [
        n.inputs[0] ?? '',
        b.int64s(starts, 'starts'),
        b.int64s(ends, 'ends'),
        ...(sliceAxes ? [b.int64s(sliceAxes, 'axes')] : []),
      ];
      n.attributes = without(n, 'starts', 'ends', 'axes');
    } else if (n.opType === 'TopK' && crosses(10)) {
      const k = attrInt(n, 'k');
      if (k !== undefined) n.inputs = [n.inputs[0] ?? '', b.int64s([k], 'k')];
      n.attributes = without(n, 'k');
    } else if (n.opType === 'Dropout' && crosses(12)) {
      // Inference Dropout is the identity; the ratio became an input and is irrelevant here.
      n.attributes = without(n, 'ratio', 'is_test');
    } else if ((n.opType === 'Upsample' && crosses(10)) || (n.opType === 'Resize' && from === 10 && crosses(11))) {
      // Upsample and Resize-10 sample with asymmetric coordinates; nearest takes the floor.
      const mode = attrString(n, 'mode', 'nearest');
      const scales = n.inputs[1];
      if (!scales)
        throw new InputError(label, `${n.opType} without a scales input cannot be upgraded; re-export the model`);
      n.opType = 'Resize';
      // roi became optional only at 13: an empty one before.
      const roi = target < 13 ? b.constant(DataType.float32, [0], [], 'roi') : '';
      n.inputs = [n.inputs[0] ?? '', roi, scales];
      n.attributes = withAttrs(n, ['scales'], {
        mode: mode === 'bilinear' ? 'linear' : mode,
        coordinate_transformation_mode: 'asymmetric',
        ...(mode === 'nearest' ? { nearest_mode: 'floor' } : {}),
      });
    }
    g.nodes.push(n);
  }
  // Helper constants were appended to the initializers; node order is unchanged.
  out.opsets = { ...out.opsets, '': target };
  if (out.irVersion < 7) out.irVersion = 7;
  return out;
}

/** Float types of tensors, for typed constants (Clip bounds, pad values): declared, else propagated from inputs. */
function floatTypes(model: Model): Map<string, number> {
  const types = new Map<string, number>();
  const g = model.graph;
  for (const v of [...g.inputs, ...g.valueInfo, ...g.outputs]) if (v.dataType) types.set(v.name, v.dataType);
  for (const t of g.initializers) types.set(t.name, t.dataType);
  for (const n of g.nodes) {
    const t = n.inputs.map((i) => types.get(i)).find((d) => d !== undefined && isFloat(d));
    if (t !== undefined) for (const o of n.outputs) if (o && !types.has(o)) types.set(o, t);
  }
  return types;
}
