/**
 * Pure planning helpers shared by the audit workflow and the local engine (deterministic: no I/O).
 */
export interface ShardPlan {
  shard: string;
  start: number;
  end: number;
}

/** Splits `imageCount` images into shards of at most `shardSize`, named so they sort in order. */
export function planShards(imageCount: number, shardSize: number): ShardPlan[] {
  if (!Number.isInteger(imageCount) || imageCount < 0) throw new RangeError(`imageCount must be a non-negative integer, got ${imageCount}`);
  if (!Number.isInteger(shardSize) || shardSize < 1) throw new RangeError(`shardSize must be a positive integer, got ${shardSize}`);
  const shards: ShardPlan[] = [];
  for (let start = 0, i = 0; start < imageCount; start += shardSize, i++) {
    shards.push({ shard: `shard-${String(i).padStart(5, '0')}`, start, end: Math.min(start + shardSize, imageCount) });
  }
  return shards;
}
