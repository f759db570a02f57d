import { HeadBucketCommand } from '@aws-sdk/client-s3';
import { readFile, readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { NativeConnection } from '@temporalio/worker';
import type { Worker } from '@temporalio/worker';
import { cachedPairLoader } from '../../activities/pairs.ts';
import type { PairLoader } from '../../activities/sampling.ts';
import { createControlWorker } from '../../workers/control.ts';
import { createSamplingWorker } from '../../workers/sampling.ts';
import { S3Store } from '../../store/objects.ts';
import type { ObjectStore } from '../../store/objects.ts';
import { temporalSettingsFromEnv } from '../../workers/env.ts';
import type { TemporalSettings } from '../../workers/env.ts';

/** Same defaults as infra/services.sh; the tests start nothing themselves. */
export const S3_DEFAULTS = {
  endpoint: 'http://127.0.0.1:8333',
  bucket: 'fiberscope',
  accessKey: 'fiberscope',
  secretKey: 'fiberscope-secret',
  region: 'us-east-1',
} as const;

const HINT = 'start the services with `infra/services.sh up` and export `infra/services.sh env`';

export function temporalSettings(): TemporalSettings {
  return temporalSettingsFromEnv(process.env);
}

export async function connectTemporal(): Promise<NativeConnection> {
  const { address } = temporalSettings();
  try {
    return await NativeConnection.connect({ address });
  } catch (err) {
    throw new Error(`Temporal is not reachable at ${address} (FIBERSCOPE_TEMPORAL_ADDRESS): ${(err as Error).message}; ${HINT}`, { cause: err });
  }
}

/** An S3Store on the services' bucket under `prefix`, after checking that the bucket answers. */
export async function s3Store(prefix: string): Promise<S3Store> {
  const env = process.env;
  const endpoint = env.FIBERSCOPE_S3_ENDPOINT || S3_DEFAULTS.endpoint;
  const bucket = env.FIBERSCOPE_S3_BUCKET || S3_DEFAULTS.bucket;
  const store = new S3Store({
    endpoint,
    bucket,
    prefix,
    region: env.FIBERSCOPE_S3_REGION || S3_DEFAULTS.region,
    credentials: {
      accessKeyId: env.FIBERSCOPE_S3_ACCESS_KEY || S3_DEFAULTS.accessKey,
      secretAccessKey: env.FIBERSCOPE_S3_SECRET_KEY || S3_DEFAULTS.secretKey,
    },
    maxAttempts: 2,
  });
  try {
    await store.client.send(new HeadBucketCommand({ Bucket: bucket }));
  } catch (err) {
    const e = err as Error & { code?: string };
    throw new Error(`S3 bucket '${bucket}' is not reachable at ${endpoint} (FIBERSCOPE_S3_ENDPOINT): ${e.code ?? e.name} ${e.message}; ${HINT}`, { cause: err });
  }
  return store;
}

/** A name no other test run uses, for key prefixes, task queues and workflow ids. */
export function uniqueName(label: string): string {
  return `${label}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * Code under test that opens s3:// specs itself (datasets, bundles) reads its settings from the
 * environment, as a deployed worker does: fill in the services' defaults where unset. Returns the bucket.
 */
export function useServiceEnvironment(): string {
  process.env.FIBERSCOPE_S3_ENDPOINT ||= S3_DEFAULTS.endpoint;
  process.env.FIBERSCOPE_S3_ACCESS_KEY ||= S3_DEFAULTS.accessKey;
  process.env.FIBERSCOPE_S3_SECRET_KEY ||= S3_DEFAULTS.secretKey;
  process.env.FIBERSCOPE_S3_REGION ||= S3_DEFAULTS.region;
  return process.env.FIBERSCOPE_S3_BUCKET || S3_DEFAULTS.bucket;
}

/** Copies a local folder (recursively) under `to/` in a store. */
export async function uploadFolder(store: ObjectStore, dir: string, to: string): Promise<void> {
  const walk = async (d: string): Promise<string[]> =>
    (await Promise.all((await readdir(d, { withFileTypes: true })).map((e) => (e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)])))).flat();
  for (const file of await walk(dir)) await store.put(`${to}/${relative(dir, file)}`, await readFile(file));
}

/** A control and a sampling worker running in this process, on the test's own task queues. */
export interface InProcessWorkers {
  /** Shuts both down and waits until they have stopped. */
  stop(): Promise<void>;
}

export async function startWorkers(o: {
  connection: NativeConnection;
  namespace: string;
  store: ObjectStore;
  controlQueue: string;
  samplingQueue: string;
  /** The sampling worker's store when it differs (a store held or failing at a given write). */
  samplingStore?: ObjectStore;
  loadPair?: PairLoader;
  batchReportMs?: number;
}): Promise<InProcessWorkers> {
  const workers: Worker[] = [
    await createControlWorker({ connection: o.connection, namespace: o.namespace, store: o.store, taskQueue: o.controlQueue }),
    await createSamplingWorker({
      connection: o.connection,
      namespace: o.namespace,
      store: o.samplingStore ?? o.store,
      loadPair: o.loadPair ?? cachedPairLoader(),
      taskQueue: o.samplingQueue,
      ...(o.batchReportMs === undefined ? {} : { batchReportMs: o.batchReportMs }),
    }),
  ];
  const running = workers.map((w) => w.run());
  return {
    async stop() {
      for (const w of workers) w.shutdown();
      await Promise.all(running);
    },
  };
}
