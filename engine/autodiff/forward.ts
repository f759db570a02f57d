import { pruneModel } from '../onnx/compose.ts';
import type { Model } from '../onnx/ir.ts';
import { vjp } from './vjp.ts';
import type { StaticShape } from './vjp.ts';

export interface RestatedForwardOptions {
  /** The output the restated nodes lead to (differentiated with respect to `wrt` to find them). */
  of: string;
  /** Further forward outputs to keep (a prior's variance channels). */
  alsoOutput?: readonly string[];
  wrt: readonly string[];
  shapes: ReadonlyMap<string, StaticShape>;
}

/**
 * The forward pass of a model as its gradient graph computes it, for forward-only sessions. Some
 * gradient rules restate forward nodes in a cheaper form with the same values (RULES.md): a Conv
 * after a nearest upsampling as phase Convs at the low resolution, an exported GroupNorm's Mul
 * and Add as one BatchNormalization, an InstanceNormalization as a LayerNormalization. This
 * derives the gradient of `of` with respect to `wrt` and keeps the forward outputs alone. Outputs
 * that the transform added to forward nodes for the backward pass (MaxPool's Indices,
 * LayerNormalization's statistics) are dropped again, so that no node does more than the model's
 * own. The same values up to float rounding, the static shapes the gradient was derived at.
 */
export function restatedForward(model: Model, options: RestatedForwardOptions): Model {
  const outputs = [options.of, ...(options.alsoOutput ?? [])];
  const gradient = vjp(model, {
    of: options.of,
    wrt: options.wrt,
    shapes: options.shapes,
    cotangent: 'ones',
    ...(options.alsoOutput?.length ? { alsoOutput: options.alsoOutput } : {}),
  });
  const forward = pruneModel(gradient, { outputs });
  const own = new Map(model.graph.nodes.map((n) => [n.outputs[0], n.outputs]));
  const read = new Set([...forward.graph.nodes.flatMap((n) => n.inputs), ...outputs]);
  for (const n of forward.graph.nodes) {
    const mine = own.get(n.outputs[0]);
    if (!mine) continue;
    // An output the model's node left out (absent or '') and nothing reads goes again.
    n.outputs = n.outputs.map((o, i) => (i > 0 && !mine[i] && !read.has(o) ? '' : o));
    while (n.outputs.length > 1 && n.outputs[n.outputs.length - 1] === '') n.outputs.pop();
  }
  return forward;
}
