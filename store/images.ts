/**
 * Image codecs: PNG/JPEG bytes ↔ float32 CHW tensors in a given range (e.g. [−1, 1]). Nothing is
 * resized or converted between gray and colour unless asked: a mismatch is an InputError.
 */
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { InputError } from '../engine/errors.ts';

export interface ImageTensor {
  /** Channels × height × width, row-major. */
  data: Float32Array;
  channels: number;
  height: number;
  width: number;
}

export interface DecodeOptions {
  /** Channels the prior expects: 1 (gray) or 3 (RGB). */
  channels: 1 | 3;
  /** Value range to map 0..255 onto. */
  range: readonly [number, number];
  /** Expected size; checked unless absent. */
  height?: number;
  width?: number;
  /** Resize (bilinear) to the expected size instead of refusing a different one. */
  resize?: boolean;
  /** Convert colour to gray (ITU-R 601 luma) or gray to colour instead of refusing. */
  convertChannels?: boolean;
}

export type ImageFormat = 'png' | 'jpeg';

export function sniffFormat(bytes: Uint8Array): ImageFormat | null {
  if (bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47)
    return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return null;
}

/** RGBA 8-bit pixels and whether the source is colour. */
function decodeRgba(
  bytes: Uint8Array,
  name: string,
): { rgba: Uint8Array; width: number; height: number; color: boolean } {
  const format = sniffFormat(bytes);
  try {
    if (format === 'png') {
      const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      return { rgba: png.data, width: png.width, height: png.height, color: png.color };
    }
    if (format === 'jpeg') {
      const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 1024 });
      // A JPEG does not say whether it is gray once decoded; equal channels everywhere means it is.
      let color = false;
      for (let p = 0; p < img.data.length && !color; p += 4)
        color = img.data[p] !== img.data[p + 1] || img.data[p] !== img.data[p + 2];
      return { rgba: img.data, width: img.width, height: img.height, color };
    }
  } catch (cause) {
    throw new InputError(name, `could not decode ${format} image: ${(cause as Error).message}`, { cause });
  }
  throw new InputError(name, 'expected a PNG or JPEG image');
}

/** Bilinear resize of a CHW tensor with half-pixel centres (align_corners = false), edges clamped. */
export function resizeBilinear(src: ImageTensor, height: number, width: number): ImageTensor {
  const { channels: c, height: h, width: w } = src;
  const out = new Float32Array(c * height * width);
  const sy = h / height;
  const sx = w / width;
  for (let y = 0; y < height; y++) {
    const fy = Math.min(h - 1, Math.max(0, (y + 0.5) * sy - 0.5));
    const y0 = Math.floor(fy);
    const y1 = Math.min(h - 1, y0 + 1);
    const wy = fy - y0;
    for (let x = 0; x < width; x++) {
      const fx = Math.min(w - 1, Math.max(0, (x + 0.5) * sx - 0.5));
      const x0 = Math.floor(fx);
      const x1 = Math.min(w - 1, x0 + 1);
      const wx = fx - x0;
      for (let ch = 0; ch < c; ch++) {
        const base = ch * h * w;
        const top = src.data[base + y0 * w + x0]! * (1 - wx) + src.data[base + y0 * w + x1]! * wx;
        const bottom = src.data[base + y1 * w + x0]! * (1 - wx) + src.data[base + y1 * w + x1]! * wx;
        out[(ch * height + y) * width + x] = top * (1 - wy) + bottom * wy;
      }
    }
  }
  return { data: out, channels: c, height, width };
}

/** Decodes PNG or JPEG bytes to a CHW float tensor in `range`. `name` is the input errors name. */
export function decodeImage(bytes: Uint8Array, options: DecodeOptions, name = 'image'): ImageTensor {
  const { rgba, width, height, color } = decodeRgba(bytes, name);
  const sourceChannels = color ? 3 : 1;
  if (sourceChannels !== options.channels && !options.convertChannels) {
    throw new InputError(
      name,
      `expected a ${options.channels === 1 ? 'gray' : 'colour'} image, got a ${color ? 'colour' : 'gray'} one`,
    );
  }
  const [lo, hi] = options.range;
  const scale = (hi - lo) / 255;
  const hw = width * height;
  const data = new Float32Array(options.channels * hw);
  for (let p = 0; p < hw; p++) {
    const r = rgba[4 * p]!;
    const g = rgba[4 * p + 1]!;
    const b = rgba[4 * p + 2]!;
    if (options.channels === 1) {
      data[p] = lo + scale * (color ? 0.299 * r + 0.587 * g + 0.114 * b : r);
    } else {
      data[p] = lo + scale * r;
      data[hw + p] = lo + scale * g;
      data[2 * hw + p] = lo + scale * b;
    }
  }
  let tensor: ImageTensor = { data, channels: options.channels, height, width };
  const wantH = options.height ?? height;
  const wantW = options.width ?? width;
  if (wantH !== height || wantW !== width) {
    if (!options.resize)
      throw new InputError(
        name,
        `expected ${wantW}×${wantH} pixels, got ${width}×${height} (resizing was not asked for)`,
      );
    tensor = resizeBilinear(tensor, wantH, wantW);
  }
  return tensor;
}

/** Encodes a CHW tensor in `range` as an 8-bit PNG: gray for 1 channel, RGB for 3. */
export function encodePng(
  data: Float32Array,
  shape: readonly [number, number, number],
  range: readonly [number, number],
): Buffer {
  const [c, h, w] = shape;
  if (c !== 1 && c !== 3) throw new InputError('image', `expected 1 or 3 channels to write a PNG, got ${c}`);
  if (data.length !== c * h * w) throw new InputError('image', `expected ${c}×${h}×${w} values, got ${data.length}`);
  const [lo, hi] = range;
  const png = new PNG({ width: w, height: h });
  const hw = h * w;
  const byte = (v: number) => {
    if (!Number.isFinite(v)) throw new InputError('image', 'contains NaN or infinite values');
    return Math.round(Math.min(1, Math.max(0, (v - lo) / (hi - lo))) * 255);
  };
  for (let p = 0; p < hw; p++) {
    const r = byte(data[p]!);
    png.data[4 * p] = r;
    png.data[4 * p + 1] = c === 3 ? byte(data[hw + p]!) : r;
    png.data[4 * p + 2] = c === 3 ? byte(data[2 * hw + p]!) : r;
    png.data[4 * p + 3] = 255;
  }
  return PNG.sync.write(png, { colorType: c === 3 ? 2 : 0, inputColorType: 6, inputHasAlpha: true });
}
