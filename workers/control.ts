import { pathToFileURL } from 'node:url';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createControlActivities } from '../activities/control.ts';
import { createStorageActivities } from '../activities/storage.ts';
import { openStore } from '../store/objects.ts';
import type { ObjectStore } from '../store/objects.ts';
import { TASK_QUEUES } from '../workflows/task-queues.ts';
import { storeSpecFromEnv, temporalSettingsFromEnv } from './env.ts';
import { failureInterceptors } from './failures.ts';
import { workflowBundlerOptions, workflowsPath } from './workflow-bundle.ts';

export interface ControlWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  store: ObjectStore;
  /** Default `control`; tests use their own queue so that they never meet another worker. */
  taskQueue?: string;
  identity?: string;
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
  });
}

/** Builds real dependencies from the environment and runs until SIGINT/SIGTERM. */
export async function runControlWorker(env: NodeJS.ProcessEnv = process.env, opts: { taskQueue?: string } = {}): Promise<void> {
  const { address, namespace } = temporalSettingsFromEnv(env);
  const store = openStore(storeSpecFromEnv(env), env);
  const connection = await NativeConnection.connect({ address });
  try {
    const taskQueue = opts.taskQueue ?? TASK_QUEUES.control;
    const worker = await createControlWorker({ connection, namespace, store, taskQueue });
    process.stderr.write(`control worker: ${address} namespace ${namespace}, queue ${taskQueue}, store ${store.location}\n`);
    await worker.run();
  } finally {
    await connection.close();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runControlWorker();
}
