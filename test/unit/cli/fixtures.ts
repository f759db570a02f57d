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
  const chunks: string[] = [];
  const original = process.stdout.write.bind(process.stdout);
  // The test runner reports over stdout in binary frames: only this process's text is captured.
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    if (typeof chunk !== 'string') return (original as (c: Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
    chunks.push(chunk);
    return true;
  }) as typeof process.stdout.write;
  try {
    const code = await fn();
    return { code, stdout: chunks.join('') };
  } finally {
    process.stdout.write = original;
  }
}
