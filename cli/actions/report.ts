import { summarizeRun } from '../../activities/summary.ts';
import { InputError } from '../../engine/errors.ts';
import { runLayout } from '../../store/layout.ts';
import { openStore } from '../../store/objects.ts';
import { EXIT } from '../exit.ts';
import { describeSummary } from './audit.ts';

export interface ReportArgs {
  run: string;
  store: string;
  json: boolean;
}

/** `fiberscope report`: summarize a run again and re-render its report. */
export async function runReport(args: ReportArgs): Promise<number> {
  const store = openStore(args.store);
  if (!(await store.exists(runLayout(args.run).manifest))) {
    throw new InputError('--run', `no run '${args.run}' in ${store.location}`);
  }
  const result = await summarizeRun(store, args.run);
  process.stdout.write(args.json ? JSON.stringify(result.summary) + '\n' : describeSummary(result.summary, store.location, result.reportKey) + '\n');
  return EXIT.ok;
}
