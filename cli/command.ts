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

/** A command of DESIGN.md's surface that is not built yet: listed in --help, refuses clearly. */
export function planned(command: string, describe: string): CommandSpec {
  return {
    command,
    describe: `${describe} [not yet available]`,
    builder: (y) => y.strict(false),
    run: async () => {
      const { NotAvailableError } = await import('../engine/errors.ts');
      throw new NotAvailableError(`'${command.split(' ')[0]}' is not yet available in this version of fiberscope`);
    },
  };
}
