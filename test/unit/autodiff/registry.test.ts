import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { RULES, findRule } from '../../../engine/autodiff/registry.ts';
import { NO_GRADIENT_OPS } from '../../../engine/autodiff/nograd.ts';
import type { OpRule } from '../../../engine/autodiff/rule.ts';
import type { RuleCase } from './harness.ts';

const rulesDir = new URL('../../../engine/autodiff/rules/', import.meta.url);
const casesDir = new URL('./cases/', import.meta.url);

async function exportedRules(): Promise<Map<string, OpRule[]>> {
  const out = new Map<string, OpRule[]>();
  for (const file of readdirSync(rulesDir).filter((f) => f.endsWith('.ts'))) {
    const mod = (await import(new URL(file, rulesDir).href)) as Record<string, unknown>;
    out.set(
      file,
      Object.values(mod).filter(
        (v): v is OpRule => typeof v === 'object' && v !== null && 'op' in v && 'versions' in v,
      ),
    );
  }
  return out;
}

async function testedCases(): Promise<RuleCase[]> {
  const all: RuleCase[] = [];
  for (const file of readdirSync(casesDir).filter((f) => f.endsWith('.ts'))) {
    all.push(...((await import(new URL(file, casesDir).href)) as { cases: RuleCase[] }).cases);
  }
  return all;
}

test('every rule file exports exactly one rule, and it is registered', async () => {
  for (const [file, rules] of await exportedRules()) {
    assert.equal(rules.length, 1, `${file} exports ${rules.length} rules`);
    assert.ok(RULES.includes(rules[0]!), `${file} (${rules[0]!.op}) is not in engine/autodiff/registry.ts`);
  }
});

test('every registered rule comes from a rule file', async () => {
  const fromFiles = new Set([...(await exportedRules()).values()].flat());
  for (const r of RULES) assert.ok(fromFiles.has(r), `${r.op} is registered but not defined under rules/`);
});

test('every registered rule has a finite-difference test row at each of its opset variants', async () => {
  const cases = await testedCases();
  for (const r of RULES) {
    for (const v of r.versions) {
      const next = r.versions.filter((w) => w.since > v.since).map((w) => w.since);
      const upTo = next.length ? Math.min(...next) : Infinity;
      const hit = cases.some((c) => c.op === r.op && (c.opset ?? 17) >= v.since && (c.opset ?? 17) < upTo);
      assert.ok(hit, `${r.op} (since opset ${v.since}) has no test row under test/unit/autodiff/cases/`);
    }
  }
});

test('the registry is sorted by op type and no op is both differentiable and gradient-free', () => {
  const ops = RULES.map((r) => r.op);
  assert.deepEqual(ops, [...ops].sort(), 'keep RULES in the order Array.prototype.sort gives op types');
  for (const op of ops) assert.ok(!NO_GRADIENT_OPS.has(op), `${op} is in both lists`);
});

test('lookup picks the highest variant not above the opset', () => {
  const clip = findRule('Clip', 13);
  assert.ok(clip);
  assert.equal(findRule('Clip', 10), undefined);
  assert.equal(findRule('Gelu', 19), undefined);
  assert.ok(findRule('Gelu', 20));
  assert.equal(findRule('NoSuchOp', 17), undefined);
});
