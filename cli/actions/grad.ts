import { renameSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { deriveGradient } from '../../engine/autodiff/derive.ts';
import { MAX_OPSET, MIN_OPSET, checkRequest } from '../../engine/autodiff/vjp.ts';
import { InputError } from '../../engine/errors.ts';
import { loadModel, saveModel } from '../../engine/onnx/model.ts';
import { upgradeOpset } from '../../engine/onnx/opset.ts';
import { EXIT } from '../exit.ts';

export interface GradRequest {
  model: string;
  of: string;
  wrt: string[];
  out: string;
  shape?: string[];
  'external-data'?: boolean;
  opset?: number;
  json?: boolean;
}

function parseShapes(specs: readonly string[], inputs: readonly string[]): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const spec of specs) {
    const m = /^([^=]+)=(\d+(?:,\d+)*)?$/.exec(spec);
    if (!m) throw new InputError('--shape', `'${spec}' is not NAME=D1,D2,... (e.g. pixel_values=1,3,224,224)`);
    const name = m[1]!;
    if (!inputs.includes(name))
      throw new InputError('--shape', `'${name}' is not an input of the model (inputs: ${inputs.join(', ')})`);
    out[name] = m[2] ? m[2].split(',').map(Number) : [];
  }
  return out;
}

/** Loads, validates, resolves shapes when all inputs are static, derives and saves; nothing is written on error. */
export async function deriveGradientModel(args: GradRequest): Promise<number> {
  if (resolve(args.out) === resolve(args.model))
    throw new InputError('--out', 'would overwrite the forward model; choose another path');
  const loaded = loadModel(args.model);
  if (
    args.opset !== undefined &&
    !(Number.isInteger(args.opset) && args.opset >= MIN_OPSET && args.opset <= MAX_OPSET)
  ) {
    throw new InputError('--opset', `${args.opset} is not an opset from ${MIN_OPSET} to ${MAX_OPSET}`);
  }
  const model = args.opset === undefined ? loaded : upgradeOpset(loaded, args.opset);
  checkRequest(model, args.of, args.wrt);
  const init = new Set(model.graph.initializers.map((t) => t.name));
  const inputs = model.graph.inputs.filter((v) => !init.has(v.name)).map((v) => v.name);
  const inputDims = parseShapes(args.shape ?? [], inputs);
  const { model: gradient, staticShapes } = await deriveGradient(model, { of: args.of, wrt: args.wrt, inputDims });
  const tmp = `${args.out}.partial`;
  const dataFile = `${basename(args.out)}.data`;
  try {
    saveModel(gradient, tmp, args['external-data'] ? { externalData: { location: dataFile } } : {});
    renameSync(tmp, args.out);
  } catch (err) {
    rmSync(tmp, { force: true });
    if (args['external-data']) rmSync(join(dirname(args.out), dataFile), { force: true });
    throw err;
  }
  const summary = {
    out: args.out,
    inputs: gradient.graph.inputs.map((v) => v.name),
    outputs: gradient.graph.outputs.map((v) => v.name),
    nodes: gradient.graph.nodes.length,
    forwardNodes: model.graph.nodes.length,
    shapes: staticShapes ? 'static' : 'dynamic (give --shape for every symbolic input for static shapes)',
  };
  process.stdout.write(
    args.json
      ? `${JSON.stringify(summary)}\n`
      : `wrote ${summary.out}: ${summary.nodes} nodes (forward ${summary.forwardNodes}), shapes ${summary.shapes}\n` +
          `  inputs:  ${summary.inputs.join(', ')}\n  outputs: ${summary.outputs.join(', ')}\n`,
  );
  return EXIT.ok;
}
