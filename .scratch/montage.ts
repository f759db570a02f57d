import { readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { PNG } from 'pngjs';
const run = process.argv[2]!; const out = process.argv[3]!;
const ids = readdirSync(`${run}/images`).slice(0, 20);
const S = 28, Z = 3, cols = 5;
const img = new PNG({ width: cols * S * Z + (cols - 1) * 4, height: ids.length * (S * Z + 4) });
ids.forEach((id, r) => {
  ['query', '0', '1', '2', '3'].forEach((n, c) => {
    let p: PNG; try { p = PNG.sync.read(readFileSync(`${run}/images/${id}/${n}.png`)); } catch { return; }
    for (let y = 0; y < S * Z; y++) for (let x = 0; x < S * Z; x++) {
      const si = (Math.floor(y / Z) * S + Math.floor(x / Z)) * 4; const di = ((r * (S * Z + 4) + y) * img.width + c * (S * Z + 4) + x) * 4;
      img.data[di] = p.data[si]!; img.data[di + 1] = c === 0 ? 0 : p.data[si]!; img.data[di + 2] = p.data[si]!; img.data[di + 3] = 255;
    }
  });
});
writeFileSync(out, PNG.sync.write(img));
