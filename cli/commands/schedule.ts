import type { CommandSpec } from '../command.ts';
import type { ScheduleArgs } from '../actions/schedule.ts';
import { auditRunFlags } from './audit.ts';

/** `fiberscope schedule ACTION [ID]`: audits on Temporal Schedules, each action a new run. */
export const schedule: CommandSpec = {
  command: 'schedule <action> [id]',
  describe: 'Temporal Schedules of audits: create, list, describe, pause, unpause, trigger, delete',
  builder: (y) =>
    auditRunFlags(y)
      .positional('action', { choices: ['create', 'list', 'describe', 'pause', 'unpause', 'trigger', 'delete'] as const, describe: 'what to do' })
      .positional('id', { type: 'string', describe: 'the schedule id (every action but list)' })
      .option('cron', { type: 'string', describe: 'create: when, as a cron expression (UTC), e.g. "0 2 * * *"', group: 'Schedule:' })
      .option('every', { type: 'string', describe: 'create: how often, as a duration, e.g. 1d, 12h, 30m', group: 'Schedule:' })
      .option('overlap', { type: 'string', choices: ['skip', 'buffer-one', 'allow-all'], default: 'skip', describe: 'create: an action due while the last audit still runs', group: 'Schedule:' })
      .option('gate-baseline', { type: 'string', describe: 'create: gate each scheduled run against this run (id in --out, or a run folder); the verdict goes into the run', group: 'Schedule:' })
      .option('note', { type: 'string', describe: 'pause/unpause: why, shown by describe', group: 'Schedule:' })
      .option('json', { type: 'boolean', default: false, describe: 'Print JSON' })
      .check((a) => {
        if (a.action !== 'list' && (a.id === undefined || a.id === '')) return `schedule ${String(a.action)}: name the schedule id`;
        if (a.action === 'create') {
          if ((a.cron === undefined) === (a.every === undefined)) return 'schedule create: give --cron EXPR or --every DURATION (one of them)';
          if (a.dataset === undefined || a.prior === undefined || a.extractor === undefined) return 'schedule create: give --dataset, --prior and --extractor';
        }
        return true;
      }),
  run: async (args) => (await import('../actions/schedule.ts')).runSchedule(args as unknown as ScheduleArgs),
};
