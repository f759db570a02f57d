/**
 * `fn` over `items` with at most `lanes` calls pending (object-store round trips overlap, without
 * opening one request per item at once); results in the order of `items`.
 */
export async function inParallel<T, R>(items: readonly T[], lanes: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i]!);
  };
  await Promise.all(Array.from({ length: Math.min(lanes, items.length) }, lane));
  return out;
}
