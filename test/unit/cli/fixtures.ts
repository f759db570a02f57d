import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataType, GraphBuilder, emptyModel, saveModel } from '../../../engine/onnx/index.ts';
import type { Dim, Model } from '../../../engine/onnx/index.ts';

export const tempDir = (): string => mkdtempSync(join(tmpdir(), 'fiberscope-cli-'));

/** y = tanh(x W) * x with an extra op `extra` on a side branch; x has the given dims. */
export function writeModel(path: string, options: { dims?: Dim[]; sideOp?: string; opset?: number } = {}): Model {
  const m = emptyModel(
    'g',
    options.opset ?? 17,
    [{ name: 'x', dataType: DataType.float32, shape: options.dims ?? [2, 3] }],
    [{ name: 'y', dataType: DataType.float32, shape: null }],
  );
  const b = GraphBuilder.forModel(m);
  const w = b.constant(DataType.float32, [3, 3], [1, 0, 0, 0, 2, 0, 0, 0, 3], 'W');
  const t = b.op('Tanh', [b.op('MatMul', ['x', w])]);
  const y = options.sideOp ? b.op(options.sideOp, [t]) : t;
  b.op('Mul', [y, 'x'], undefined, 'y');
  saveModel(m, path);
  return m;
}

/** Runs fn with its text written to stdout captured. */
export async function captureStdout(fn: () => Promise<number>): Promise<{ code: number; stdout: string }> {
  const { code, text } = await capture(process.stdout, fn);
  return { code, stdout: text };
}

/** Runs fn with its text written to stderr captured. */
export async function captureStderr(fn: () => Promise<number>): Promise<{ code: number; stderr: string }> {
  const { code, text } = await capture(process.stderr, fn);
  return { code, stderr: text };
}

async function capture(stream: NodeJS.WriteStream, fn: () => Promise<number>): Promise<{ code: number; text: string }> {
  const chunks: string[] = [];
  const original = stream.write.bind(stream);
  // The test runner reports over stdout in binary frames: only this process's text is captured.
  stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    if (typeof chunk !== 'string') return (original as (c: Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
    chunks.push(chunk);
    return true;
  }) as typeof stream.write;
  try {
    const code = await fn();
    return { code, text: chunks.join('') };
  } finally {
    stream.write = original;
  }
}
