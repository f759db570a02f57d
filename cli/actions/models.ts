import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { summarizeModel } from '../../engine/autodiff/coverage.ts';
import { unsupportedNodes } from '../../engine/autodiff/vjp.ts';
import type { ModelSummary } from '../../engine/autodiff/coverage.ts';
import { InputError } from '../../engine/errors.ts';
import { loadModel } from '../../engine/onnx/model.ts';
import { EXIT } from '../exit.ts';

export interface InspectOptions {
  json: boolean;
  /** With wrt: also list the nodes between this output and those inputs that have no gradient rule. */
  of?: string | undefined;
  wrt?: string[] | undefined;
  out?: NodeJS.WritableStream;
}

export async function inspectPath(path: string, options: InspectOptions): Promise<number> {
  if (!existsSync(path))
    throw new InputError(path, 'no such file or folder; expected an .onnx file or a bundle folder');
  if (statSync(path).isDirectory()) {
    if (!existsSync(join(path, 'fiberscope.json'))) {
      throw new InputError(
        path,
        'a folder without fiberscope.json is not a bundle; pass an .onnx file or a bundle folder',
      );
    }
    const { inspectBundle } = await import('./bundle.ts');
    return inspectBundle(path, options);
  }
  return inspectOnnxFile(path, options);
}

function dims(d: ModelSummary['inputs'][number]['dims']): string {
  return d ? `[${d.map((x) => x ?? '?').join(', ')}]` : '[?]';
}

export async function inspectOnnxFile(path: string, options: InspectOptions): Promise<number> {
  const out = options.out ?? process.stdout;
  const model = loadModel(path);
  const summary = summarizeModel(model);
  if ((options.of === undefined) !== (options.wrt === undefined)) {
    throw new InputError(
      options.of === undefined ? '--wrt' : '--of',
      'give --of and --wrt together to check a gradient path',
    );
  }
  const gradientPath =
    options.of !== undefined && options.wrt !== undefined
      ? {
          of: options.of,
          wrt: options.wrt,
          unsupported: unsupportedNodes(model, { of: options.of, wrt: options.wrt }).map((u) => ({
            node: u.node.name,
            op: u.node.domain ? `${u.node.domain}::${u.node.opType}` : u.node.opType,
            reason: u.reason,
          })),
        }
      : undefined;
  if (options.json) {
    out.write(`${JSON.stringify({ path, ...summary, ...(gradientPath ? { gradientPath } : {}) })}\n`);
    return EXIT.ok;
  }
  const lines = [
    `${path}`,
    `  ir ${summary.irVersion}, opsets ${Object.entries(summary.opsets)
      .map(([d, v]) => `${d || 'ai.onnx'} ${v}`)
      .join(', ')}${summary.producer ? `, produced by ${summary.producer}` : ''}`,
    `  ${summary.nodes} nodes, ${summary.initializers.count} initializers (${(summary.initializers.bytes / 1e6).toFixed(1)} MB)`,
    `  inputs:  ${summary.inputs.map((v) => `${v.name} ${v.type}${dims(v.dims)}`).join(', ')}`,
    `  outputs: ${summary.outputs.map((v) => `${v.name} ${v.type}${dims(v.dims)}`).join(', ')}`,
    '  operators (count, gradient):',
    ...summary.operators.map(
      (o) =>
        `    ${(o.domain ? `${o.domain}::${o.op}` : o.op).padEnd(28)} ${String(o.count).padStart(5)}  ${o.gradient}`,
    ),
    summary.missing.length
      ? `  gradient: no rule for ${summary.missing.join(', ')} (fine only where they do not lie between a differentiated output and input)`
      : '  gradient: every operator is covered',
  ];
  if (!summary.opsetSupported) {
    lines.push(
      '  gradient: the default opset is outside 11–21; `fiberscope grad --opset 11` converts older exports first',
    );
  }
  if (gradientPath) {
    const head = `  gradient of ${gradientPath.of} wrt ${gradientPath.wrt.join(', ')}:`;
    lines.push(
      gradientPath.unsupported.length === 0
        ? `${head} every node on the path has a rule`
        : `${head} ${gradientPath.unsupported.length} nodes without a rule: ${gradientPath.unsupported
            .map((u) => `${u.node || '(unnamed)'} (${u.op})`)
            .join(', ')}`,
    );
  }
  out.write(`${lines.join('\n')}\n`);
  return EXIT.ok;
}
