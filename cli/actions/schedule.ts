import { ScheduleAlreadyRunning, ScheduleNotFoundError, ScheduleOverlapPolicy } from '@temporalio/client';
import type { Client, ScheduleDescription } from '@temporalio/client';
import { runRequestOf } from '../../activities/control.ts';
import { InputError } from '../../engine/errors.ts';
import { listRuns } from '../../runs/catalogue.ts';
import type { RunEntry } from '../../runs/catalogue.ts';
import { openStore } from '../../store/objects.ts';
import { scheduledAuditWorkflow } from '../../workflows/index.ts';
import type { ScheduledAuditInput } from '../../workflows/scheduled.ts';
import { TASK_QUEUES } from '../../workflows/task-queues.ts';
import { EXIT } from '../exit.ts';
import { absolute, auditOptionsOf, withClient } from './audit-temporal.ts';
import { newRunFromArgs } from './audit.ts';
import type { AuditArgs } from './audit.ts';

export interface ScheduleArgs extends AuditArgs {
  action: 'create' | 'list' | 'describe' | 'pause' | 'unpause' | 'trigger' | 'delete';
  id?: string;
  cron?: string;
  every?: string;
  overlap: 'skip' | 'buffer-one' | 'allow-all';
  gateBaseline?: string;
  note?: string;
}

const OVERLAP = {
  skip: ScheduleOverlapPolicy.SKIP,
  'buffer-one': ScheduleOverlapPolicy.BUFFER_ONE,
  'allow-all': ScheduleOverlapPolicy.ALLOW_ALL,
} as const;

/** The workflow id prefix of a schedule's actions; Temporal appends the action's time. */
const scheduledWorkflowId = (id: string) => `scheduled-audit/${id}`;

/** Temporal's duration words, checked here so a typo is a usage error, not a server error. */
const DURATION = /^\d+(\.\d+)?\s*(ms|s|m|h|d|w)$/;

function say(args: ScheduleArgs, json: unknown, text: string): void {
  process.stdout.write(args.json ? JSON.stringify(json) + '\n' : text + '\n');
}

async function create(client: Client, args: ScheduleArgs, id: string): Promise<number> {
  if (args.every !== undefined && !DURATION.test(args.every.trim())) {
    throw new InputError('every', `expected a duration such as 30m, 12h or 1d, got '${args.every}'`);
  }
  const store = openStore(args.out);
  // Bundles and flags are checked now, before anything is scheduled (the same checks as `audit`).
  const { runId: _runId, ...spec } = await newRunFromArgs(args);
  const request = runRequestOf({
    ...spec,
    dataset: absolute(spec.dataset),
    prior: absolute(spec.prior),
    extractor: absolute(spec.extractor),
    ...(spec.reference === undefined ? {} : { reference: absolute(spec.reference) }),
  });
  const input: ScheduledAuditInput = {
    scheduleId: id,
    store: store.location,
    run: request,
    options: auditOptionsOf(args),
    ...(args.gateBaseline === undefined ? {} : { gateBaseline: args.gateBaseline }),
  };
  try {
    await client.schedule.create({
      scheduleId: id,
      spec: args.cron !== undefined ? { cronExpressions: [args.cron] } : { intervals: [{ every: args.every!.trim() as `${number}${'ms' | 's' | 'm' | 'h' | 'd' | 'w'}` }] },
      action: {
        type: 'startWorkflow',
        workflowType: scheduledAuditWorkflow,
        args: [input],
        taskQueue: args.taskQueue ?? TASK_QUEUES.control,
        workflowId: scheduledWorkflowId(id),
      },
      policies: { overlap: OVERLAP[args.overlap] },
      memo: { fiberscope: { store: store.location, extractor: spec.extractor, prior: spec.prior, dataset: spec.dataset, when: args.cron !== undefined ? `cron ${args.cron}` : `every ${args.every!.trim()}` } },
    });
  } catch (err) {
    if (err instanceof ScheduleAlreadyRunning) throw new InputError('id', `a schedule '${id}' already exists; delete it first or pick another id`, { cause: err });
    throw err;
  }
  say(args, { scheduleId: id, store: store.location }, `created schedule ${id}: ${args.cron !== undefined ? `cron ${args.cron}` : `every ${args.every}`}, runs in ${store.location}`);
  return EXIT.ok;
}

interface ScheduleView {
  scheduleId: string;
  paused: boolean;
  note: string | null;
  /** As given at create (`cron …` or `every …`). */
  when: string | null;
  overlap: string;
  nextActionTimes: string[];
  recentActions: { scheduledAt: string; takenAt: string; workflowId: string | null }[];
  actions: number;
  store: string | null;
  /** The runs this schedule made, from the store's catalogue, newest first. */
  runs: Pick<RunEntry, 'runId' | 'status' | 'createdAt' | 'images' | 'samples' | 'topProbe'>[];
}

async function viewOf(d: ScheduleDescription): Promise<ScheduleView> {
  const memo = (d.memo?.['fiberscope'] ?? null) as { store?: string; when?: string } | null;
  let runs: ScheduleView['runs'] = [];
  if (memo?.store !== undefined) {
    const all = await listRuns(openStore(memo.store)).catch(() => []);
    runs = all.filter((r) => r.schedule?.id === d.scheduleId).map(({ runId, status, createdAt, images, samples, topProbe }) => ({ runId, status, createdAt, images, samples, topProbe }));
  }
  return {
    scheduleId: d.scheduleId,
    paused: d.state.paused,
    note: d.state.note ?? null,
    when: memo?.when ?? null,
    overlap: String(d.policies.overlap),
    nextActionTimes: d.info.nextActionTimes.map((t) => t.toISOString()),
    recentActions: d.info.recentActions.map((a) => ({
      scheduledAt: a.scheduledAt.toISOString(),
      takenAt: a.takenAt.toISOString(),
      workflowId: a.action.type === 'startWorkflow' ? a.action.workflow.workflowId : null,
    })),
    actions: d.info.numActionsTaken,
    store: memo?.store ?? null,
    runs,
  };
}

function describeText(v: ScheduleView): string {
  return [
    `schedule ${v.scheduleId}: ${v.paused ? `paused${v.note ? ` (${v.note})` : ''}` : 'active'}; ${v.when ?? '–'}; overlap ${v.overlap}`,
    `  next: ${v.nextActionTimes.slice(0, 3).join(', ') || '–'}`,
    `  actions taken: ${v.actions}${v.recentActions.length ? `, last at ${v.recentActions.at(-1)!.takenAt}` : ''}`,
    `  store: ${v.store ?? '–'}`,
    `  runs (${v.runs.length}):`,
    ...v.runs.map((r) => `    ${r.runId}  ${r.status.padEnd(10)} ${r.createdAt}  images ${r.images}  samples ${r.samples ? `${r.samples.ok} ok / ${r.samples.error} error` : '–'}  top probe ${r.topProbe ?? '–'}`),
  ].join('\n');
}

/** `fiberscope schedule ...` on the Temporal cluster of FIBERSCOPE_TEMPORAL_ADDRESS / _NAMESPACE. */
export async function runSchedule(args: ScheduleArgs): Promise<number> {
  return await withClient(async (client) => {
    const id = args.id ?? '';
    const handle = client.schedule.getHandle(id);
    try {
      switch (args.action) {
        case 'create':
          return await create(client, args, id);
        case 'list': {
          const rows: { scheduleId: string; paused: boolean; nextActionTimes: string[]; actions: number }[] = [];
          for await (const s of client.schedule.list()) {
            if (s.action?.type !== 'startWorkflow' || s.action.workflowType !== 'scheduledAuditWorkflow') continue;
            rows.push({ scheduleId: s.scheduleId, paused: s.state.paused, nextActionTimes: s.info.nextActionTimes.map((t) => t.toISOString()), actions: s.info.recentActions.length });
          }
          rows.sort((a, b) => a.scheduleId.localeCompare(b.scheduleId));
          say(args, rows, rows.length === 0 ? 'no fiberscope schedules' : rows.map((r) => `${r.scheduleId.padEnd(28)} ${r.paused ? 'paused' : 'active'}  next ${r.nextActionTimes[0] ?? '–'}`).join('\n'));
          return EXIT.ok;
        }
        case 'describe': {
          const view = await viewOf(await handle.describe());
          say(args, view, describeText(view));
          return EXIT.ok;
        }
        case 'pause':
          await handle.pause(args.note);
          say(args, { scheduleId: id, paused: true }, `paused schedule ${id}`);
          return EXIT.ok;
        case 'unpause':
          await handle.unpause(args.note);
          say(args, { scheduleId: id, paused: false }, `unpaused schedule ${id}`);
          return EXIT.ok;
        case 'trigger':
          await handle.trigger(ScheduleOverlapPolicy.ALLOW_ALL);
          say(args, { scheduleId: id, triggered: true }, `triggered schedule ${id}: a new run starts now`);
          return EXIT.ok;
        case 'delete':
          await handle.delete();
          say(args, { scheduleId: id, deleted: true }, `deleted schedule ${id} (its runs stay in the store)`);
          return EXIT.ok;
      }
    } catch (err) {
      if (err instanceof ScheduleNotFoundError) throw new InputError('id', `no schedule '${id}' in this namespace (see 'fiberscope schedule list')`, { cause: err });
      throw err;
    }
  });
}
