import yargs from 'yargs';
import { readFileSync } from 'node:fs';
import { commands } from './commands/index.ts';
import { EXIT, exitCodeFor } from './exit.ts';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

/** Parses argv, runs one command, returns its exit code. Tests call this with an argv array. */
export async function main(argv: string[]): Promise<number> {
  let code: number = EXIT.ok;
  // Read before parsing too: a failure while parsing is reported with it.
  let verbose = argv.includes('--verbose');
  const cli = yargs(argv)
    .scriptName('fiberscope')
    .usage('$0 <command> [options]\n\nAudits what vision models ignore by sampling the fibers of a model.')
    .version(pkg.version)
    .help()
    .alias('h', 'help')
    .option('verbose', { type: 'boolean', default: false, global: true, describe: 'On failure, also print the stack of every error in the chain' })
    .middleware((a) => {
      verbose = Boolean(a.verbose);
    })
    .strict()
    .demandCommand(1, 'name a command (see --help)')
    .recommendCommands()
    .wrap(Math.min(110, process.stdout.columns ?? 110))
    .fail((msg, err) => {
      // A check that returns its message (a string) is a usage error; a thrown Error is the command's own.
      if (err instanceof Error) throw err;
      process.stderr.write(`fiberscope: ${msg}\nRun 'fiberscope --help' for usage.\n`);
      code = EXIT.usage;
    });
  for (const spec of commands) {
    cli.command(spec.command, spec.describe, spec.builder ?? ((y) => y), async (args) => {
      // yargs still calls the handler after reporting a validation failure (missing options).
      if (code === EXIT.usage) return;
      code = await spec.run(args as Record<string, unknown>);
    });
  }
  try {
    await cli.parseAsync();
  } catch (err) {
    return exitCodeFor(err, { verbose });
  }
  return code;
}
