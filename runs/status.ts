import { runLayout } from '../store/layout.ts';
import { readJsonIfPresent } from '../store/objects.ts';
import type { ObjectStore } from '../store/objects.ts';

/** How a run stands as its engine last recorded it (`status.json` in the run folder). */
export interface RunStatusRecord {
  state: 'running' | 'failed' | 'done';
  /** ISO 8601; a local run refreshes it while it samples, so a stale `running` means its process is gone. */
  updatedAt: string;
  engine: 'local' | 'temporal';
  /** The audit workflow's id (temporal engine). */
  workflowId?: string;
  phase?: string;
  shard?: string;
  error?: { kind: string; message: string };
}

/** Reads a run's status record; null when it has none (runs written before it existed). */
export async function readRunStatus(store: ObjectStore, runId: string): Promise<RunStatusRecord | null> {
  return await readJsonIfPresent<RunStatusRecord>(store, runLayout(runId).status, { malformedAsMissing: true });
}

export async function writeRunStatus(store: ObjectStore, runId: string, record: Omit<RunStatusRecord, 'updatedAt'>): Promise<void> {
  const full: RunStatusRecord = { ...record, updatedAt: new Date().toISOString() };
  await store.put(runLayout(runId).status, JSON.stringify(full, null, 2), 'application/json');
}

/** Records why a run stopped before its summary: the failure's kind and cause, and where (phase, shard) when known. */
export async function writeRunFailure(
  store: ObjectStore,
  runId: string,
  f: { engine: RunStatusRecord['engine']; workflowId?: string | undefined; phase?: string | null; shard?: string | null; kind: string; message: string },
): Promise<void> {
  await writeRunStatus(store, runId, {
    state: 'failed',
    engine: f.engine,
    ...(f.workflowId === undefined ? {} : { workflowId: f.workflowId }),
    ...(f.phase == null ? {} : { phase: f.phase }),
    ...(f.shard == null ? {} : { shard: f.shard }),
    error: { kind: f.kind, message: f.message },
  });
}
