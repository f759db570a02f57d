import { runLayout } from '../store/layout.ts';
import { ObjectNotFoundError } from '../store/objects.ts';
import type { ObjectStore } from '../store/objects.ts';
import type { CrossSummary } from '../runs/cross.ts';
import type { GateRecord } from './run-page.ts';

async function readJson<T>(store: ObjectStore, key: string): Promise<T | null> {
  try {
    return JSON.parse(new TextDecoder().decode(await store.get(key))) as T;
  } catch (err) {
    // A record another command is still writing, or never wrote, is left off the page.
    if (err instanceof ObjectNotFoundError || err instanceof SyntaxError) return null;
    throw err;
  }
}

/** What other commands recorded in a run folder: the gate's verdict and the cross-model tables. */
export async function readRunExtras(store: ObjectStore, runId: string): Promise<{ gate: GateRecord | null; cross: CrossSummary[] }> {
  const layout = runLayout(runId);
  const crossKeys = (await store.list(`${layout.base}/cross/`)).filter((k) => k.endsWith('.json'));
  const [gate, ...cross] = await Promise.all([readJson<GateRecord>(store, layout.gate), ...crossKeys.map((k) => readJson<CrossSummary>(store, k))]);
  return { gate: gate ?? null, cross: cross.filter((c): c is CrossSummary => c !== null) };
}
