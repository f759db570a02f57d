import { readFileSync, readdirSync } from 'node:fs';
import { readImageRows } from '../store/image-tables.ts';
const dir = process.argv[2]!;
for (const r of readdirSync(`${dir}/runs`)) {
  const rows = readImageRows(readFileSync(`${dir}/runs/${r}/summary.arrow`));
  const m = JSON.parse(readFileSync(`${dir}/runs/${r}/manifest.json`, 'utf8'));
  const c = new Map<string, number>(); for (const x of rows) c.set(x.top_probe!, (c.get(x.top_probe!) ?? 0) + 1);
  console.log(m.extractor.id, [...c].map(([k, v]) => `${k}:${v}`).join(' '), rows.map(x=>x.top_probe_rate?.toFixed(2)).join(','));
}
