import { resolveWorkerConfig } from '../../workers/config.ts';
import type { WorkerSettings } from '../../workers/config.ts';
import { runWorker as runWorkerProcess } from '../../workers/lifecycle.ts';

export interface WorkerArgs extends WorkerSettings {
  config?: string;
}

/** Validates every setting (flags over environment over --config file), then runs the worker until SIGTERM/SIGINT. */
export async function runWorker(args: WorkerArgs): Promise<number> {
  const { queue, taskQueue, store, provider, httpPort, httpHost, shutdownGrace, temporalAddress, namespace, config } = args;
  const flags = { queue, taskQueue, store, provider, httpPort, httpHost, shutdownGrace, temporalAddress, namespace, config };
  return await runWorkerProcess(resolveWorkerConfig(flags));
}
