import { test } from 'node:test';
import assert from 'node:assert/strict';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { decodeImage, encodePng, resizeBilinear, sniffFormat } from '../../../store/images.ts';
import { readNpy, writeNpy } from '../../../store/npy.ts';
import { InputError } from '../../../engine/errors.ts';

const rgbPng = (w: number, h: number, px: (x: number, y: number) => [number, number, number]) => {
  const png = new PNG({ width: w, height: h });
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const [r, g, b] = px(x, y);
      png.data.set([r, g, b, 255], 4 * (y * w + x));
    }
  return PNG.sync.write(png);
};

test('PNG decodes to CHW in the requested range', () => {
  const bytes = rgbPng(3, 2, (x, y) => [x * 100, y * 255, 51]);
  assert.equal(sniffFormat(bytes), 'png');
  const img = decodeImage(bytes, { channels: 3, range: [-1, 1] });
  assert.deepEqual([img.channels, img.height, img.width], [3, 2, 3]);
  const at = (c: number, y: number, x: number) => img.data[(c * 2 + y) * 3 + x]!;
  assert.ok(Math.abs(at(0, 1, 2) - (-1 + (2 * 200) / 255)) < 1e-6);
  assert.equal(at(1, 1, 0), 1);
  assert.equal(at(1, 0, 0), -1);
  assert.ok(Math.abs(at(2, 0, 1) - (-1 + (2 * 51) / 255)) < 1e-6);
});

test('encode → decode round trip, gray and RGB', () => {
  const rgb = Float32Array.from({ length: 3 * 4 * 5 }, (_, i) => -1 + (2 * ((i * 37) % 256)) / 255);
  const back = decodeImage(encodePng(rgb, [3, 4, 5], [-1, 1]), { channels: 3, range: [-1, 1], height: 4, width: 5 });
  assert.ok(back.data.every((v, j) => Math.abs(v - rgb[j]!) < 1e-6));
  const gray = Float32Array.from({ length: 6 * 7 }, (_, i) => (i % 256) / 255);
  const encoded = encodePng(gray, [1, 6, 7], [0, 1]);
  assert.equal(PNG.sync.read(encoded).color, false);
  const g = decodeImage(encoded, { channels: 1, range: [0, 1] });
  assert.ok(g.data.every((v, j) => Math.abs(v - gray[j]!) < 1e-6));
  // Out-of-range values are clipped, NaN refused.
  const clipped = decodeImage(encodePng(Float32Array.from([-5, 5]), [1, 1, 2], [0, 1]), { channels: 1, range: [0, 1] });
  assert.deepEqual([...clipped.data], [0, 1]);
  assert.throws(() => encodePng(Float32Array.from([Number.NaN]), [1, 1, 1], [0, 1]), InputError);
});

test('JPEG decodes (lossy, within a few levels) and gray JPEGs count as gray', () => {
  const w = 16;
  const h = 16;
  const data = Buffer.alloc(w * h * 4);
  for (let p = 0; p < w * h; p++) data.set([128, 128, 128, 255], 4 * p);
  const bytes = jpeg.encode({ data, width: w, height: h }, 100).data;
  assert.equal(sniffFormat(bytes), 'jpeg');
  const img = decodeImage(bytes, { channels: 1, range: [0, 255] });
  assert.ok(img.data.every((v) => Math.abs(v - 128) <= 2));
  assert.throws(() => decodeImage(bytes, { channels: 3, range: [0, 1] }), /expected a colour image, got a gray one/);
  const colour = decodeImage(bytes, { channels: 3, range: [0, 1], convertChannels: true });
  assert.equal(colour.channels, 3);
});

test('wrong size or channels are InputErrors naming the image; resize only when asked', () => {
  const bytes = rgbPng(4, 4, (x) => [x * 60, 0, 0]);
  assert.throws(
    () => decodeImage(bytes, { channels: 3, range: [0, 1], height: 8, width: 8 }, 'data/cat.png'),
    (e: unknown) =>
      e instanceof InputError && e.input === 'data/cat.png' && /expected 8×8 pixels, got 4×4/.test(e.message),
  );
  assert.throws(() => decodeImage(bytes, { channels: 1, range: [0, 1] }), /expected a gray image, got a colour one/);
  const big = decodeImage(bytes, { channels: 3, range: [0, 1], height: 8, width: 8, resize: true });
  assert.equal(big.data.length, 3 * 64);
  assert.throws(
    () => decodeImage(Buffer.from('hello world'), { channels: 3, range: [0, 1] }),
    /expected a PNG or JPEG/,
  );
  assert.throws(
    () => decodeImage(Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3, 4, 5]), { channels: 3, range: [0, 1] }),
    /could not decode png/,
  );
});

test('bilinear resize with half-pixel centres', () => {
  const src = { data: Float32Array.from([0, 1, 2, 3]), channels: 1, height: 1, width: 4 };
  const half = resizeBilinear(src, 1, 2);
  assert.deepEqual([...half.data], [0.5, 2.5]);
  const up = resizeBilinear({ data: Float32Array.from([0, 4]), channels: 1, height: 1, width: 2 }, 1, 4);
  assert.deepEqual([...up.data], [0, 1, 3, 4]);
});

test('npy: float32 round trip and a hand-built header', () => {
  const data = Float32Array.from([1.5, -2, 3.25, 0, 7, 8]);
  const bytes = writeNpy(data, [2, 3]);
  assert.equal((10 + bytes.readUInt16LE(8)) % 64, 0);
  assert.match(bytes.toString('latin1', 10, 80), /'descr': '<f4', 'fortran_order': False, 'shape': \(2, 3\)/);
  assert.deepEqual(readNpy(bytes), { data, shape: [2, 3] });
  assert.deepEqual(readNpy(writeNpy(Float32Array.from([4]), [1])).shape, [1]);
  const header = "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }";
  const f8 = Buffer.alloc(10 + header.length + 1 + 24);
  f8.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  f8.writeUInt16LE(header.length + 1, 8);
  f8.write(header + '\n', 10, 'latin1');
  [0.5, -1, 2].forEach((v, j) => f8.writeDoubleLE(v, 10 + header.length + 1 + 8 * j));
  assert.deepEqual(readNpy(f8), { data: Float32Array.from([0.5, -1, 2]), shape: [3] });
  const bad = Buffer.from(f8);
  bad.write("'<i4'", 10 + header.indexOf("'<f8'"), 'latin1');
  assert.throws(
    () => readNpy(bad, 'x.npy'),
    (e: unknown) => e instanceof InputError && e.input === 'x.npy',
  );
  assert.throws(() => writeNpy(data, [4, 2]), /expected 8 values/);
  assert.throws(() => readNpy(Buffer.from('nope nope nope')), /bad magic/);
});
