import { runControlWorker } from '../workers/control.ts';
import { runSamplingWorker } from '../workers/sampling.ts';
import type { WorkerArgs } from './commands/worker.ts';
import { EXIT } from './exit.ts';

/** Runs the worker until SIGINT/SIGTERM; the flags override the environment of workers/env.ts. */
export async function runWorker(args: WorkerArgs): Promise<number> {
  const env = { ...process.env, ...(args.store !== undefined ? { FIBERSCOPE_STORE: args.store } : {}) };
  if (args.queue === 'control') await runControlWorker(env);
  else await runSamplingWorker(env, args.provider !== undefined ? { provider: args.provider } : {});
  return EXIT.ok;
}
