import type { CommandSpec } from '../command.ts';
import { envDefaults } from '../env.ts';
import type { ReportArgs } from '../actions/report.ts';

export const report: CommandSpec = {
  command: 'report',
  describe: "Summarize a run again and render its HTML report (summary.arrow, summary.json, report.html)",
  builder: (y) =>
    y
      .option('run', { type: 'string', demandOption: true, describe: 'Run id' })
      .option('store', { type: 'string', default: envDefaults.store(), describe: 'Store holding the run: a folder or s3://bucket/prefix (env FIBERSCOPE_STORE)' })
      .option('json', { type: 'boolean', default: false, describe: 'Print the run summary as JSON' }),
  run: async (args) => (await import('../actions/report.ts')).runReport(args as unknown as ReportArgs),
};
