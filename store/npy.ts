/** NumPy .npy files of float32 tensors (C order, little-endian): the interchange format for tensors. */
import { InputError } from '../engine/errors.ts';

export interface NpyArray {
  data: Float32Array;
  shape: number[];
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** Format 1.0 header, padded with spaces so the data starts at a multiple of 64 bytes. */
export function writeNpy(data: Float32Array, shape: readonly number[]): Buffer {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length)
    throw new InputError('shape', `expected ${count} values for shape [${shape.join(', ')}], got ${data.length}`);
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const unpadded = MAGIC.length + 2 + 2 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const out = Buffer.alloc(MAGIC.length + 4 + header.length + data.length * 4);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  out.writeUInt16LE(header.length, 8);
  out.write(header, 10, 'latin1');
  const offset = 10 + header.length;
  for (let j = 0; j < data.length; j++) out.writeFloatLE(data[j]!, offset + 4 * j);
  return out;
}

/** Reads float32 (or float64, converted) C-order little-endian arrays; anything else is an InputError. */
export function readNpy(bytes: Uint8Array, name = 'npy'): NpyArray {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 10 || !MAGIC.every((b, j) => buf[j] === b))
    throw new InputError(name, 'not a .npy file (bad magic)');
  const major = buf[6]!;
  const headerLength = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const headerStart = major === 1 ? 10 : 12;
  if (major < 1 || major > 3) throw new InputError(name, `unsupported .npy version ${major}`);
  const header = buf.toString(major === 3 ? 'utf8' : 'latin1', headerStart, headerStart + headerLength);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined)
    throw new InputError(name, `unreadable .npy header ${header.trim()}`);
  if (fortran === 'True') throw new InputError(name, 'expected C order, got a Fortran-order array');
  if (descr !== '<f4' && descr !== '<f8')
    throw new InputError(name, `expected little-endian float32 ('<f4'), got '${descr}'`);
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const offset = headerStart + headerLength;
  const width = descr === '<f4' ? 4 : 8;
  if (buf.length - offset < count * width) throw new InputError(name, `expected ${count} values, file is truncated`);
  const data = new Float32Array(count);
  for (let j = 0; j < count; j++)
    data[j] = width === 4 ? buf.readFloatLE(offset + 4 * j) : buf.readDoubleLE(offset + 8 * j);
  return { data, shape };
}
