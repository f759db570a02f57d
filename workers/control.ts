import { Worker } from '@temporalio/worker';
import type { NativeConnection } from '@temporalio/worker';
import type { Duration } from '@temporalio/common';
import { createControlActivities } from '../activities/control.ts';
import { createStorageActivities } from '../activities/storage.ts';
import type { ObjectStore } from '../store/objects.ts';
import { TASK_QUEUES } from '../workflows/task-queues.ts';
import { failureInterceptors } from './failures.ts';
import { workflowBundlerOptions, workflowsPath } from './workflow-bundle.ts';

export interface ControlWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  store: ObjectStore;
  /** Default `control`; tests use their own queue so that they never meet another worker. */
  taskQueue?: string;
  identity?: string;
  /** How long running tasks may take to finish at shutdown, and when to give up on them (workers/lifecycle.ts). */
  shutdownTimes?: ShutdownTimes;
}

export interface ShutdownTimes {
  shutdownGraceTime: Duration;
  shutdownForceTime: Duration;
}

/** A worker on the control queue running every workflow (the audit among them) and the control activities over `store`. */
export async function createControlWorker(options: ControlWorkerOptions): Promise<Worker> {
  return await Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue ?? TASK_QUEUES.control,
    workflowsPath: workflowsPath(),
    bundlerOptions: workflowBundlerOptions(),
    activities: { ...createStorageActivities({ store: options.store }), ...createControlActivities({ store: options.store }) },
    interceptors: { activity: [failureInterceptors] },
    ...(options.identity === undefined ? {} : { identity: options.identity }),
    ...options.shutdownTimes,
  });
}

