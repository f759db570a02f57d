import yargs from 'yargs';
import type { Argv } from 'yargs';
import { readFileSync } from 'node:fs';
import { commands } from './commands/index.ts';
import { EXIT, exitCodeFor } from './exit.ts';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

/**
 * FIBERSCOPE_* variables also carry settings read elsewhere (S3, Temporal, the services scripts): under
 * `strict` the ones that are not options of the command would be refused as unknown arguments.
 */
function dropForeignSettings(args: Record<string, unknown>, known: Set<string>): void {
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('FIBERSCOPE_')) continue;
    const kebab = name.slice('FIBERSCOPE_'.length).toLowerCase().replace(/_/g, '-');
    const camel = kebab.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
    if (known.has(kebab) || known.has(camel)) continue;
    // A flag typed on the command line with another value stays, and strict reports it.
    for (const key of [kebab, camel]) if (key in args && String(args[key]) === value) delete args[key];
  }
}

/** yargs' own view of the running command's options (not in its type declarations). */
interface WithOptions {
  getOptions(): { key: Record<string, unknown> };
}

/** Parses argv, runs one command, returns its exit code. Tests call this with an argv array. */
export async function main(argv: string[]): Promise<number> {
  let code: number = EXIT.ok;
  const cli: Argv = yargs(argv)
    .scriptName('fiberscope')
    .usage('$0 <command> [options]\n\nAudits what vision models ignore by sampling the fibers of a model.')
    .env('FIBERSCOPE')
    .middleware((args): void => dropForeignSettings(args, new Set(Object.keys((cli as unknown as WithOptions).getOptions().key))), true)
    .version(pkg.version)
    .help()
    .alias('h', 'help')
    .strict()
    .demandCommand(1, 'name a command (see --help)')
    .recommendCommands()
    .wrap(Math.min(110, process.stdout.columns ?? 110))
    .fail((msg, err) => {
      if (err) throw err;
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
    return exitCodeFor(err);
  }
  return code;
}
