import { runControlWorker } from '../../workers/control.ts';
import { runSamplingWorker } from '../../workers/sampling.ts';
import { EXIT } from '../exit.ts';

export interface WorkerArgs {
  queue: 'control' | 'sampling';
  store?: string;
  provider?: string;
  taskQueue?: string;
}

/** Runs the worker until SIGINT/SIGTERM; the flags override the environment of workers/env.ts. */
export async function runWorker(args: WorkerArgs): Promise<number> {
  const env = { ...process.env, ...(args.store !== undefined ? { FIBERSCOPE_STORE: args.store } : {}) };
  const taskQueue = args.taskQueue !== undefined ? { taskQueue: args.taskQueue } : {};
  if (args.queue === 'control') await runControlWorker(env, taskQueue);
  else await runSamplingWorker(env, { ...taskQueue, ...(args.provider !== undefined ? { provider: args.provider } : {}) });
  return EXIT.ok;
}
