import { pathToFileURL } from 'node:url';
import { Client } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { cachedPairLoader } from '../activities/pairs.ts';
import { createSamplingActivities } from '../activities/shards.ts';
import type { StoredBatches } from '../activities/shards.ts';
import type { PairLoader } from '../activities/sampling.ts';
import { openStore } from '../store/objects.ts';
import type { ObjectStore } from '../store/objects.ts';
import { batchesStoredSignal } from '../workflows/audit.ts';
import { TASK_QUEUES } from '../workflows/task-queues.ts';
import { storeSpecFromEnv, temporalSettingsFromEnv } from './env.ts';
import { failureInterceptors } from './failures.ts';

export interface SamplingWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  store: ObjectStore;
  loadPair: PairLoader;
  /** Default `sampling`; tests use their own queue so that they never meet another worker. */
  taskQueue?: string;
  /** Shards sampled at once by this worker; default 1 (one per device: a batch already fills it). */
  slots?: number;
  identity?: string;
  /** Fewest milliseconds between two batch reports of one shard attempt to its workflow; default 1000. */
  batchReportMs?: number;
}

/**
 * A worker on the sampling queue running `sampleShard` with the given pair loader; it reports stored
 * batches to their audit workflow with a signal over the worker's own connection.
 */
export async function createSamplingWorker(options: SamplingWorkerOptions): Promise<Worker> {
  const client = new Client({ connection: options.connection, namespace: options.namespace });
  const reports = {
    send: (workflowId: string, report: StoredBatches) => client.workflow.getHandle(workflowId).signal(batchesStoredSignal, report),
    ...(options.batchReportMs === undefined ? {} : { everyMs: options.batchReportMs }),
  };
  return await Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue ?? TASK_QUEUES.sampling,
    activities: createSamplingActivities({ store: options.store, loadPair: options.loadPair, reports }),
    interceptors: { activity: [failureInterceptors] },
    maxConcurrentActivityTaskExecutions: options.slots ?? 1,
    ...(options.identity === undefined ? {} : { identity: options.identity }),
  });
}

/**
 * The pair loader of a worker on one device: sessions cached for the life of the process, on the
 * worker's execution provider when it names one (the device decides, not the submitter), else the run's.
 */
export function workerPairLoader(provider?: string): PairLoader {
  const cached = cachedPairLoader();
  return provider === undefined ? cached : (config) => cached({ ...config, provider });
}

/** Builds real dependencies from the environment and runs until SIGINT/SIGTERM. */
export async function runSamplingWorker(env: NodeJS.ProcessEnv = process.env, opts: { provider?: string; taskQueue?: string } = {}): Promise<void> {
  const { address, namespace } = temporalSettingsFromEnv(env);
  const store = openStore(storeSpecFromEnv(env), env);
  const provider = opts.provider ?? (env.FIBERSCOPE_PROVIDER || undefined);
  const connection = await NativeConnection.connect({ address });
  try {
    const taskQueue = opts.taskQueue ?? TASK_QUEUES.sampling;
    const worker = await createSamplingWorker({ connection, namespace, store, loadPair: workerPairLoader(provider), taskQueue });
    process.stderr.write(
      `sampling worker: ${address} namespace ${namespace}, queue ${taskQueue}, store ${store.location}, provider ${provider ?? "the run's"}\n`,
    );
    await worker.run();
  } finally {
    await connection.close();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runSamplingWorker();
}
