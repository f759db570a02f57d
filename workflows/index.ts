/** Every workflow a worker registers: the bundle entry point (`workflowsPath`). */
export { storageCheckWorkflow } from './storage-check.ts';
export { auditDatasetWorkflow } from './audit.ts';
export { scheduledAuditWorkflow } from './scheduled.ts';
