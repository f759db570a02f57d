import type { Argv } from 'yargs';

/**
 * One CLI command. `run` lazy-imports its implementation and returns an exit code; errors thrown
 * from it go through `exitCodeFor` in main.ts. One file per command under cli/commands/.
 */
export interface CommandSpec<A = Record<string, unknown>> {
  command: string;
  describe: string;
  builder?: (y: Argv) => Argv;
  run: (args: A) => Promise<number>;
}
