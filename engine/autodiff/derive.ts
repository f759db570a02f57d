import type { Model } from '../onnx/ir.ts';
import { resolveShapes } from '../runtime/index.ts';
import type { ResolveOptions } from '../runtime/index.ts';
import { checkRequest, vjp } from './vjp.ts';
import type { StaticShape, VjpOptions } from './vjp.ts';

export interface DeriveOptions extends Omit<VjpOptions, 'shapes'> {
  /**
   * Dims of inputs declared with symbolic dims. When every input ends up static, shapes are
   * resolved once with ONNX Runtime and the gradient graph uses constant shapes; otherwise rules
   * fall back to shapes computed in the graph.
   */
  inputDims?: Readonly<Record<string, readonly number[]>>;
  resolve?: ResolveOptions;
}

export interface Derived {
  model: Model;
  /** Whether static shapes were resolved (false: the graph computes shapes at run time). */
  staticShapes: boolean;
}

/** Validates the request, resolves shapes where the inputs allow it, and derives the VJP model. */
export async function deriveGradient(model: Model, options: DeriveOptions): Promise<Derived> {
  checkRequest(model, options.of, options.wrt);
  const init = new Set(model.graph.initializers.map((t) => t.name));
  const given = options.inputDims ?? {};
  const allStatic = model.graph.inputs
    .filter((v) => !init.has(v.name))
    .every((v) => given[v.name] ?? v.shape?.every((d) => typeof d === 'number'));
  let shapes: Map<string, StaticShape> | undefined;
  if (allStatic) shapes = await resolveShapes(model, given, options.resolve);
  const { inputDims: _dims, resolve: _resolve, ...vjpOptions } = options;
  return { model: vjp(model, { ...vjpOptions, shapes }), staticShapes: shapes !== undefined };
}
