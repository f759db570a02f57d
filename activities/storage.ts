import { sanitizeKeyPart } from '../store/objects.ts';
import type { ObjectStore } from '../store/objects.ts';
import { sampleRowsToIpc } from '../store/tables.ts';
import { SCHEMA_VERSION, failedSampleRow } from '../store/sample-rows.ts';
import type { SampleRow } from '../store/sample-rows.ts';
import { InputError } from '../engine/errors.ts';

export interface StorageActivityDeps {
  store: ObjectStore;
}

export interface StorageCheckInput {
  runId: string;
  imageIds: string[];
  samplesPerImage: number;
}

/** Keys only: payloads through Temporal stay small. */
export interface StorageCheckResult {
  location: string;
  recordKey: string;
  tableKey: string;
  rows: number;
}

export const STORAGE_CHECK_ERROR = 'not sampled: storage check';

/**
 * Activities that exercise a run folder end to end (a JSON object and a sample table under
 * `runs/<runId>/storage-check/`) so a deployment can prove its workers reach the store with the
 * right schema before sampling anything. The rows are error rows: nothing was sampled.
 */
export function createStorageActivities({ store }: StorageActivityDeps) {
  return {
    async writeStorageCheck(input: StorageCheckInput): Promise<StorageCheckResult> {
      if (!Number.isInteger(input.samplesPerImage) || input.samplesPerImage < 1 || input.samplesPerImage > 1000) {
        throw new InputError('samplesPerImage', `expected an integer in 1..1000, got ${input.samplesPerImage}`);
      }
      if (input.imageIds.length > 10_000) throw new InputError('imageIds', `expected at most 10000 ids, got ${input.imageIds.length}`);
      const base = `runs/${sanitizeKeyPart(input.runId)}/storage-check`;
      const shared = { run_id: input.runId, variant: 'none', prior_id: 'none', extractor_id: 'none', fiber_metric_name: 'none' };
      const rows: SampleRow[] = input.imageIds.flatMap((imageId) =>
        Array.from({ length: input.samplesPerImage }, (_, k) => failedSampleRow({ ...shared, seed: String(k) }, imageId, k, STORAGE_CHECK_ERROR)),
      );
      const record = {
        runId: input.runId,
        schemaVersion: SCHEMA_VERSION,
        imageKeys: input.imageIds.map(sanitizeKeyPart),
        samplesPerImage: input.samplesPerImage,
      };
      // Contents depend on the input only, so a retried activity rewrites identical objects.
      const recordKey = `${base}/record.json`;
      const tableKey = `${base}/samples.arrow`;
      await store.put(recordKey, JSON.stringify(record, null, 2), 'application/json');
      await store.put(tableKey, sampleRowsToIpc(rows, []), 'application/vnd.apache.arrow.file');
      return { location: store.location, recordKey, tableKey, rows: rows.length };
    },
  };
}
