import { proxyActivities } from '@temporalio/workflow';
import type { createStorageActivities, StorageCheckInput, StorageCheckResult } from '../activities/storage.ts';

const { writeStorageCheck } = proxyActivities<ReturnType<typeof createStorageActivities>>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 5, nonRetryableErrorTypes: ['InputError'] },
});

/** Writes a record and a sample table into the run folder through a control worker; returns their keys. */
export async function storageCheckWorkflow(input: StorageCheckInput): Promise<StorageCheckResult> {
  return await writeStorageCheck(input);
}
