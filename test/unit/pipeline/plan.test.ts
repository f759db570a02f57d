import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planShards } from '../../../workflows/plan.ts';

test('shards cover every image exactly once, in order, at most shardSize each', () => {
  for (const [count, size] of [[0, 3], [1, 3], [7, 3], [9, 3], [10, 1]] as const) {
    const shards = planShards(count, size);
    const covered = shards.flatMap((s) => Array.from({ length: s.end - s.start }, (_, i) => s.start + i));
    assert.deepEqual(covered, Array.from({ length: count }, (_, i) => i));
    assert.ok(shards.every((s) => s.end - s.start <= size && s.end > s.start));
    assert.deepEqual([...shards.map((s) => s.shard)].sort(), shards.map((s) => s.shard));
    assert.equal(new Set(shards.map((s) => s.shard)).size, shards.length);
  }
});

test('bad sizes are refused', () => {
  assert.throws(() => planShards(5, 0), /shardSize/);
  assert.throws(() => planShards(-1, 2), /imageCount/);
});
