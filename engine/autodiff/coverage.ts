import { dataTypeName } from '../onnx/ir.ts';
import type { Dim, Model } from '../onnx/ir.ts';
import { NO_GRADIENT_OPS } from './nograd.ts';
import { findRule } from './registry.ts';
import { MAX_OPSET, MIN_OPSET } from './vjp.ts';

/** How the gradient transform treats an op type. */
export type GradientSupport = 'rule' | 'constant' | 'missing' | 'non-standard domain' | 'local function';

export interface OperatorUse {
  domain: string;
  op: string;
  count: number;
  gradient: GradientSupport;
}

export interface ModelSummary {
  irVersion: number;
  producer: string;
  opsets: Record<string, number>;
  inputs: { name: string; type: string; dims: Dim[] | null }[];
  outputs: { name: string; type: string; dims: Dim[] | null }[];
  initializers: { count: number; bytes: number };
  nodes: number;
  operators: OperatorUse[];
  /** Whether the default opset is one the gradient transform accepts. */
  opsetSupported: boolean;
  /** Op types with no rule (an error only if they lie between a differentiated output and input). */
  missing: string[];
}

/** Operators, opsets and gradient coverage of a model, for `models inspect`. */
export function summarizeModel(model: Model): ModelSummary {
  const opset = model.opsets[''] ?? model.opsets['ai.onnx'];
  const counts = new Map<string, OperatorUse>();
  const functions = new Set((model.functions ?? []).map((f) => `${f.domain ?? ''}::${f.name ?? ''}`));
  for (const n of model.graph.nodes) {
    const key = `${n.domain}::${n.opType}`;
    const use = counts.get(key);
    if (use) use.count++;
    else {
      const standard = n.domain === '' || n.domain === 'ai.onnx';
      const gradient: GradientSupport = functions.has(key)
        ? 'local function'
        : !standard
          ? 'non-standard domain'
          : NO_GRADIENT_OPS.has(n.opType)
            ? 'constant'
            : opset !== undefined && findRule(n.opType, opset)
              ? 'rule'
              : 'missing';
      counts.set(key, { domain: n.domain, op: n.opType, count: 1, gradient });
    }
  }
  const operators = [...counts.values()].sort((a, b) => a.domain.localeCompare(b.domain) || a.op.localeCompare(b.op));
  const g = model.graph;
  const init = new Set(g.initializers.map((t) => t.name));
  const io = (v: { name: string; dataType: number; shape: Dim[] | null }): ModelSummary['inputs'][number] => ({
    name: v.name,
    type: v.dataType ? dataTypeName(v.dataType) : 'unknown',
    dims: v.shape,
  });
  return {
    irVersion: model.irVersion,
    producer: [model.producerName, model.producerVersion].filter(Boolean).join(' '),
    opsets: model.opsets,
    inputs: g.inputs.filter((v) => !init.has(v.name)).map(io),
    outputs: g.outputs.map(io),
    initializers: { count: g.initializers.length, bytes: g.initializers.reduce((s, t) => s + t.raw.length, 0) },
    nodes: g.nodes.length,
    operators,
    opsetSupported: opset !== undefined && opset >= MIN_OPSET && opset <= MAX_OPSET,
    missing: operators
      .filter((o) => o.gradient !== 'rule' && o.gradient !== 'constant')
      .map((o) => (o.domain ? `${o.domain}::${o.op}` : o.op)),
  };
}
