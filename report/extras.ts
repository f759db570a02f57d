import { runLayout } from '../store/layout.ts';
import { readJsonIfPresent } from '../store/objects.ts';
import type { ObjectStore } from '../store/objects.ts';
import type { CrossSummary } from '../runs/cross.ts';
import type { GateVerdict } from '../gate/verdict.ts';

// A record another command is still writing, or never wrote, is left off the page.
const MALFORMED = { malformedAsMissing: true };

/** What other commands recorded in a run folder: the gate's verdict and the cross-model tables. */
export async function readRunExtras(store: ObjectStore, runId: string): Promise<{ gate: GateVerdict | null; cross: CrossSummary[] }> {
  const layout = runLayout(runId);
  const crossKeys = (await store.list(`${layout.base}/cross/`)).filter((k) => k.endsWith('.json'));
  const [gate, ...cross] = await Promise.all([readJsonIfPresent<GateVerdict>(store, layout.gate, MALFORMED), ...crossKeys.map((k) => readJsonIfPresent<CrossSummary>(store, k, MALFORMED))]);
  return { gate: gate ?? null, cross: cross.filter((c): c is CrossSummary => c !== null) };
}
