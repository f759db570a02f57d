import { InputError } from '../engine/errors.ts';
import type { DatasetEntry } from '../store/dataset.ts';
import { runLayout } from '../store/layout.ts';
import type { ObjectStore } from '../store/objects.ts';
import type { RunConfig } from '../runs/manifest.ts';

/** Images per listing page: a shard reads only the pages it covers, and no process holds the whole list. */
export const LISTING_PAGE_SIZE = 1000;

const decode = (bytes: Uint8Array) => JSON.parse(new TextDecoder().decode(bytes)) as DatasetEntry[];

/**
 * Writes a run's image list from a stream of entries, one page object at a time, and returns how many
 * it wrote (at most `limit`). If the stream fails (bad input found mid-listing), the pages written so
 * far are removed before the error goes on: a run without a manifest leaves nothing behind.
 */
export async function writeRunListing(
  store: ObjectStore,
  runId: string,
  entries: AsyncIterable<DatasetEntry>,
  limit = Infinity,
  pageSize = LISTING_PAGE_SIZE,
): Promise<number> {
  const layout = runLayout(runId);
  let page: DatasetEntry[] = [];
  let count = 0;
  const flush = async () => {
    await store.put(layout.listingPage(count - page.length), JSON.stringify(page), 'application/json');
    page = [];
  };
  try {
    for await (const entry of entries) {
      if (count >= limit) break;
      page.push(entry);
      count += 1;
      if (page.length === pageSize) await flush();
    }
    if (page.length > 0) await flush();
  } catch (err) {
    for (let first = 0; first < count - page.length; first += pageSize) await store.delete(layout.listingPage(first));
    throw err;
  }
  return count;
}

/** The run's images `start..end` (by index): from the pages covering them, or an older run's `images.json`. */
export async function readRunImages(store: ObjectStore, config: RunConfig, start: number, end: number): Promise<DatasetEntry[]> {
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > config.imageCount || start > end) {
    throw new InputError('shard', `range ${start}..${end} outside the run's ${config.imageCount} images`);
  }
  const layout = runLayout(config.runId);
  if (config.listing === undefined) return decode(await store.get(layout.images)).slice(start, end);
  const size = config.listing.pageSize;
  const entries: DatasetEntry[] = [];
  for (let first = start - (start % size); first < end; first += size) {
    const page = decode(await store.get(layout.listingPage(first)));
    entries.push(...page.slice(Math.max(0, start - first), end - first));
  }
  return entries;
}
