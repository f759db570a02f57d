import type { CommandSpec } from '../command.ts';
import { envDefaults } from '../env.ts';

interface ReportArgs {
  run: string;
  store: string;
  json: boolean;
}

export const report: CommandSpec = {
  command: 'report',
  describe: "Summarize a run again and render its HTML report (summary.arrow, summary.json, report.html)",
  builder: (y) =>
    y
      .option('run', { type: 'string', demandOption: true, describe: 'Run id' })
      .option('store', { type: 'string', default: envDefaults.store(), describe: 'Store holding the run: a folder or s3://bucket/prefix (env FIBERSCOPE_STORE)' })
      .option('json', { type: 'boolean', default: false, describe: 'Print the run summary as JSON' }),
  run: async (raw) => {
    const args = raw as unknown as ReportArgs;
    const [{ openStore }, { summarizeRun }, { runLayout }, { InputError }, { describeSummary }, { EXIT }] = await Promise.all([
      import('../../store/objects.ts'),
      import('../../activities/summary.ts'),
      import('../../store/layout.ts'),
      import('../../engine/errors.ts'),
      import('../audit-impl.ts'),
      import('../exit.ts'),
    ]);
    const store = openStore(args.store);
    if (!(await store.exists(runLayout(args.run).manifest))) {
      throw new InputError('--run', `no run '${args.run}' in ${store.location}`);
    }
    const result = await summarizeRun(store, args.run);
    process.stdout.write(args.json ? JSON.stringify(result.summary) + '\n' : describeSummary(result.summary, store.location, result.reportKey) + '\n');
    return EXIT.ok;
  },
};
