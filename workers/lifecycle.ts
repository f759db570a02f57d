import { NativeConnection } from '@temporalio/worker';
import type { Worker } from '@temporalio/worker';
import { ServiceError, temporalUnreachable } from '../engine/errors.ts';
import { openStore } from '../store/objects.ts';
import type { WorkerConfig } from './config.ts';
import { createControlWorker } from './control.ts';
import type { ShutdownTimes } from './control.ts';
import { serveWorkerEndpoint } from './http.ts';
import type { WorkerEndpoint } from './http.ts';
import { WorkerMetrics } from './metrics.ts';
import { createSamplingWorker, workerPairLoader } from './sampling.ts';

/**
 * How the grace period is spent. Temporal lets running activities finish for the first 80% (a
 * sampling shard stops by itself at its next batch boundary), then cancels them (a batch that is
 * still running stops mid-way and is sampled again elsewhere); at 95% the worker gives up waiting,
 * and at 100% the process exits whatever is left.
 */
export function shutdownTimesOf(graceSeconds: number): ShutdownTimes {
  return { shutdownGraceTime: Math.round(graceSeconds * 800), shutdownForceTime: Math.round(graceSeconds * 950) };
}

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/**
 * Runs one worker process until SIGTERM/SIGINT: opens the store (bad settings are refused before
 * connecting), connects to Temporal, serves /healthz, /readyz and /metrics, and on the first signal
 * stops polling, lets the running batch finish and hands its shard back, and returns within the
 * grace period. Returns the exit code: 0 after a clean drain, 1 when the grace period ran out.
 */
export async function runWorker(config: WorkerConfig, env: NodeJS.ProcessEnv = process.env, log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<number> {
  const store = openStore(config.store, env);
  const { address, namespace } = config.temporal;
  let connection: NativeConnection;
  try {
    connection = await NativeConnection.connect({ address });
  } catch (err) {
    throw temporalUnreachable(address, err, '--temporal-address (FIBERSCOPE_TEMPORAL_ADDRESS)');
  }
  const metrics = new WorkerMetrics({ queue: config.queue, taskQueue: config.taskQueue });
  const shutdown = new AbortController();
  const shutdownTimes = shutdownTimesOf(config.shutdownGraceSeconds);
  let endpoint: WorkerEndpoint | undefined;
  let hardStop: NodeJS.Timeout | undefined;
  let onSignal: ((signal: NodeJS.Signals) => void) | undefined;
  try {
    // The endpoint first: a taken port is refused before a worker holds the connection (a worker that
    // never ran cannot release it, and closing the connection would then hide the port's message).
    const started: { worker?: Worker } = {};
    if (config.httpPort !== 0) {
      endpoint = await serveWorkerEndpoint({
        host: config.httpHost,
        port: config.httpPort,
        registry: metrics.registry,
        ready: () => started.worker?.getState() === 'RUNNING' && !shutdown.signal.aborted,
      });
    }
    const common = { connection, namespace, store, taskQueue: config.taskQueue, shutdownTimes };
    const worker: Worker = await (
      config.queue === 'control'
        ? createControlWorker(common)
        : createSamplingWorker({ ...common, loadPair: workerPairLoader(config.provider), observer: metrics, shutdown: shutdown.signal })
    ).catch((err: unknown) => {
      // The server checks the namespace when the worker is created.
      if (err instanceof Error && /Namespace \S+ (was )?not found/i.test(err.message)) {
        throw new ServiceError('temporal', 'namespace-missing', address, `Temporal namespace '${namespace}' not found at ${address}; check --namespace (FIBERSCOPE_TEMPORAL_NAMESPACE) or create the namespace`, { cause: err });
      }
      throw err;
    });
    started.worker = worker;
    onSignal = (signal) => {
      if (shutdown.signal.aborted) {
        log(`${config.queue} worker: ${signal} again, exiting without waiting for running tasks`);
        process.exit(1);
      }
      log(`${config.queue} worker: ${signal}, draining: no new tasks; running shards stop at their next batch and are handed back (grace ${config.shutdownGraceSeconds} s)`);
      shutdown.abort();
      // Temporal's own signal handler may have started the shutdown already.
      if (worker.getState() === 'RUNNING') worker.shutdown();
      hardStop = setTimeout(() => {
        log(`${config.queue} worker: grace period of ${config.shutdownGraceSeconds} s over, exiting`);
        process.exit(1);
      }, config.shutdownGraceSeconds * 1000);
      hardStop.unref();
    };
    for (const s of SIGNALS) process.on(s, onSignal);
    const listening = endpoint === undefined ? 'no HTTP endpoint' : `http ${config.httpHost}:${endpoint.port} (/healthz /readyz /metrics)`;
    log(
      `${config.queue} worker: ${address} namespace ${namespace}, queue ${config.taskQueue}, store ${store.location}` +
        `${config.queue === 'sampling' ? `, provider ${config.provider ?? "the run's"}` : ''}, ${listening}`,
    );
    try {
      await worker.run();
    } catch (err) {
      if ((err as Error).name === 'GracefulShutdownPeriodExpiredError') {
        log(`${config.queue} worker: running tasks did not stop within the grace period; exiting`);
        return 1;
      }
      throw err;
    }
    log(`${config.queue} worker: stopped`);
    return 0;
  } finally {
    if (onSignal !== undefined) for (const s of SIGNALS) process.off(s, onSignal);
    clearTimeout(hardStop);
    await endpoint?.close();
    await connection.close();
  }
}
