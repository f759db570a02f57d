import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { checkRule } from './harness.ts';
import type { RuleCase } from './harness.ts';

/** Every table under cases/ (one file per rule family), each row a test. */
const dir = new URL('./cases/', import.meta.url);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.ts'))
  .sort();
for (const file of files) {
  const { cases } = (await import(new URL(file, dir).href)) as { cases: RuleCase[] };
  for (const c of cases) {
    test(`${file.replace(/\.ts$/, '')}: ${c.name}`, async () => {
      const r = await checkRule(c);
      assert.ok(r.compared > 0, 'no derivative entries compared');
      assert.ok(
        r.worst <= r.tol,
        `worst relative error ${r.worst.toExponential(2)} > ${r.tol} over ${r.compared} entries`,
      );
    });
  }
}
