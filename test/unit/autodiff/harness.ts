import { vjp } from '../../../engine/autodiff/vjp.ts';
import { makeAttributes } from '../../../engine/onnx/attributes.ts';
import type { Attrs } from '../../../engine/onnx/attributes.ts';
import { DataType, emptyModel, makeTensor } from '../../../engine/onnx/ir.ts';
import type { Model, ValueInfo } from '../../../engine/onnx/ir.ts';
import { openSession, resolveShapes, tensor } from '../../../engine/runtime/index.ts';
import type { HostTensor } from '../../../engine/runtime/index.ts';

/** One input of a one-op test graph. */
export interface InputSpec {
  dims: number[];
  /** float (the case's dtype, default), int64 or bool. */
  kind?: 'float' | 'int64' | 'bool';
  /** Fixed values; otherwise uniform in `range` (default [-2, 2]). */
  values?: number[];
  range?: [number, number];
  /** Keep random values at least 0.05 away from these points (kinks, ties, poles). */
  avoid?: number[];
  /** An initializer instead of a graph input: a weight, an index, an axis list; never differentiated. */
  constant?: boolean;
  /** An absent optional input (''). */
  absent?: boolean;
}

/** A row of a rule table: one op, its inputs and attributes, checked against central differences. */
export interface RuleCase {
  name: string;
  op: string;
  opset?: number;
  inputs: InputSpec[];
  attrs?: Attrs;
  /** Number of node outputs (default 1). */
  outputs?: number;
  /** Which output to differentiate (default 0). */
  of?: number;
  /** float64 unless ONNX Runtime's CPU kernel has only float32. */
  dtype?: 'float64' | 'float32';
  /** Central-difference step (default 1e-6 float64, 1e-2 float32). */
  step?: number;
  /** Allowed error: |numeric - analytic| <= tol (1 + |numeric|) (default 1e-6 float64, 2e-3 float32). */
  tol?: number;
}

export interface RuleCheck {
  /** Largest |numeric - analytic| / (1 + |numeric|) over every element of every wrt input. */
  worst: number;
  tol: number;
  /** Number of derivative entries compared. */
  compared: number;
  gradientModel: Model;
}

function rng(seedText: string): () => number {
  let s = 2166136261;
  for (const ch of seedText) s = Math.imul(s ^ ch.charCodeAt(0), 16777619);
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function sample(spec: InputSpec, random: () => number): number[] {
  const n = spec.dims.reduce((a, b) => a * b, 1);
  if (spec.values) return spec.values;
  const [lo, hi] = spec.range ?? [-2, 2];
  return Array.from({ length: n }, () => {
    for (;;) {
      const v = lo + (hi - lo) * random();
      if (!(spec.avoid ?? []).some((p) => Math.abs(v - p) < 0.05)) return v;
    }
  });
}

/** Builds the one-op model of a case; the node's outputs are y0..yk. */
export function caseModel(c: RuleCase, values: number[][]): { model: Model; wrt: string[] } {
  const floatType = c.dtype === 'float32' ? DataType.float32 : DataType.float64;
  const inputs: ValueInfo[] = [];
  const model = emptyModel(c.op, c.opset ?? 17, inputs, []);
  const wrt: string[] = [];
  const names = c.inputs.map((spec, i) => {
    if (spec.absent) return '';
    const name = `x${i}`;
    const type = spec.kind === 'int64' ? DataType.int64 : spec.kind === 'bool' ? DataType.bool : floatType;
    if (spec.constant || spec.kind === 'bool' || spec.kind === 'int64') {
      model.graph.initializers.push(makeTensor(name, type, spec.dims, values[i]!));
    } else {
      inputs.push({ name, dataType: type, shape: spec.dims });
      wrt.push(name);
    }
    return name;
  });
  const outputs = Array.from({ length: c.outputs ?? 1 }, (_, i) => `y${i}`);
  model.graph.nodes.push({
    name: `${c.op}_under_test`,
    opType: c.op,
    domain: '',
    inputs: names,
    outputs,
    attributes: makeAttributes(c.attrs),
  });
  model.graph.outputs = outputs.map((name) => ({ name, dataType: 0, shape: null }));
  return { model, wrt };
}

function weighted(a: HostTensor, v: Float64Array): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += Number(a.data[i]) * v[i]!;
  return s;
}

/**
 * Derives the case's VJP, runs forward and gradient graphs in real ONNX Runtime sessions, and
 * compares vᵀ ∂y/∂x for a random cotangent v with central differences of vᵀ y.
 */
export async function checkRule(c: RuleCase): Promise<RuleCheck> {
  const random = rng(c.name);
  const type = c.dtype ?? 'float64';
  const values = c.inputs.map((spec) => sample(spec, random));
  const { model, wrt } = caseModel(c, values);
  const shapes = await resolveShapes(model, {});
  const of = `y${c.of ?? 0}`;
  const gradientModel = vjp(model, { of, wrt, shapes });
  const forward = await openSession(model, {}, c.name);
  const backward = await openSession(gradientModel, {}, `${c.name} (gradient)`);

  const feeds: Record<string, HostTensor> = {};
  c.inputs.forEach((spec, i) => {
    const name = `x${i}`;
    if (wrt.includes(name)) feeds[name] = tensor(type, spec.dims, values[i]!);
  });
  const outDims = shapes.get(of)!.dims;
  const outType = shapes.get(of)!.dataType === DataType.float32 ? 'float32' : 'float64';
  const v = Float64Array.from({ length: outDims.reduce((a, b) => a * b, 1) }, () => random() * 2 - 1);
  const grads = await backward.run({ ...feeds, [`d_${of}`]: tensor(outType, outDims, Array.from(v)) });

  const step = c.step ?? (type === 'float64' ? 1e-6 : 1e-2);
  const tol = c.tol ?? (type === 'float64' ? 1e-6 : 2e-3);
  let worst = 0;
  let compared = 0;
  for (const x of wrt) {
    const base = feeds[x]!;
    const analytic = grads[`d_${x}`]!;
    if (analytic.dims.join() !== base.dims.join())
      throw new Error(`d_${x} has dims [${analytic.dims}] instead of [${base.dims}]`);
    for (let j = 0; j < base.data.length; j++) {
      const probe = async (delta: number): Promise<number> => {
        const data = Array.from(base.data as Float64Array);
        data[j]! += delta;
        const out = await forward.run({ ...feeds, [x]: tensor(type, base.dims, data) }, [of]);
        return weighted(out[of]!, v);
      };
      const numeric = ((await probe(step)) - (await probe(-step))) / (2 * step);
      const err = Math.abs(numeric - Number(analytic.data[j])) / (1 + Math.abs(numeric));
      worst = Math.max(worst, err);
      compared++;
    }
  }
  return { worst, tol, compared, gradientModel };
}

export interface DirectionalCheck {
  /** vᵀ J u from the gradient graph: Σ over wrt inputs of ⟨d_x, u_x⟩. */
  analytic: number;
  /** (vᵀ y(x + h u) - vᵀ y(x - h u)) / 2h. */
  numeric: number;
  relError: number;
}

/**
 * Whole-model check: for random directions u (per wrt input) and cotangent v, compares the
 * gradient graph's ⟨vjp, u⟩ with a central difference of vᵀ y along u. Feeds give every input.
 */
export async function directionalCheck(
  model: Model,
  options: {
    of: string;
    wrt: string[];
    feeds: Record<string, HostTensor>;
    step?: number;
    seed?: string;
    gradientModel?: Model;
    /**
     * 'random' (default) or 'difference': v = the central difference of y along u itself, so that
     * vᵀJu = |Ju|² adds up without cancellation and float32 rounding noise stays far below it
     * (deep float32 models, whose small steps are needed to keep clear of ReLU/Clip kinks).
     */
    cotangent?: 'random' | 'difference';
    /**
     * A float64 twin of the model (same inputs and outputs) whose central differences serve as the
     * reference, e.g. for float32 models whose own differences are too noisy; fed in float64.
     */
    reference?: Model;
  },
): Promise<DirectionalCheck> {
  const random = rng(options.seed ?? 'directional');
  const shapes = await resolveShapes(
    model,
    Object.fromEntries(Object.entries(options.feeds).map(([k, t]) => [k, t.dims])),
  );
  const gradientModel = options.gradientModel ?? vjp(model, { of: options.of, wrt: options.wrt, shapes });
  const forward = await openSession(options.reference ?? model, {}, options.reference ? 'reference model' : 'model');
  const movedType = options.reference ? 'float64' : undefined;
  const backward = await openSession(gradientModel, {}, 'gradient model');
  const out = shapes.get(options.of)!;
  const outType = out.dataType === DataType.float32 ? 'float32' : 'float64';
  const size = out.dims.reduce((a, b) => a * b, 1);
  const randomV = Array.from({ length: size }, () => random() * 2 - 1);
  const directions = Object.fromEntries(
    options.wrt.map((x) => [x, Array.from({ length: options.feeds[x]!.data.length }, () => random() * 2 - 1)]),
  );
  const h = options.step ?? (outType === 'float64' ? 1e-6 : 1e-3);
  // Inputs moved along ±u in their own dtype; the analytic side uses the step actually taken (float32
  // rounding of x ± hu would otherwise dominate the error of a small step).
  const moved = (sign: number): Record<string, HostTensor> => {
    const feeds = { ...options.feeds };
    for (const x of options.wrt) {
      const base = options.feeds[x]!;
      const values = Array.from(base.data as Float64Array, (d, i) => Number(d) + sign * h * directions[x]![i]!);
      feeds[x] = tensor(movedType ?? base.type, base.dims, values);
    }
    return feeds;
  };
  const [up, down] = [moved(1), moved(-1)];
  const output = async (feeds: Record<string, HostTensor>): Promise<HostTensor> => {
    if (movedType)
      for (const [k, t] of Object.entries(feeds))
        if (t.type === 'float32') feeds[k] = tensor('float64', t.dims, Float64Array.from(t.data as Float32Array));
    return (await forward.run(feeds, [options.of]))[options.of]!;
  };
  const [plus, minus] = [await output(up), await output(down)];
  const difference = Float64Array.from(
    { length: size },
    (_, i) => (Number(plus.data[i]) - Number(minus.data[i])) / (2 * h),
  );
  const v = options.cotangent === 'difference' ? Array.from(difference) : randomV;
  const grads = await backward.run({ ...options.feeds, [`d_${options.of}`]: tensor(outType, out.dims, v) });
  let analytic = 0;
  for (const x of options.wrt) {
    const g = grads[`d_${x}`]!;
    const [p, m] = [up[x]!.data, down[x]!.data];
    for (let i = 0; i < g.data.length; i++) analytic += ((Number(p[i]) - Number(m[i])) / (2 * h)) * Number(g.data[i]);
  }
  let numeric = 0;
  v.forEach((vi, i) => (numeric += vi * difference[i]!));
  return { analytic, numeric, relError: Math.abs(analytic - numeric) / Math.max(1e-12, Math.abs(numeric)) };
}
