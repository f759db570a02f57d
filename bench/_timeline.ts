// scratch: timeline of one Temporal audit's history (not committed)
import { Client, Connection } from '@temporalio/client';
import { temporalSettingsFromEnv } from '../workers/env.ts';
const id = process.argv[2]!;
const { address, namespace } = temporalSettingsFromEnv();
const connection = await Connection.connect({ address });
const client = new Client({ connection, namespace });
const h = client.workflow.getHandle(id);
const ev = (await h.fetchHistory()).events ?? [];
const t0 = Number(ev[0]!.eventTime!.seconds) * 1000 + (ev[0]!.eventTime!.nanos ?? 0) / 1e6;
const sched = new Map<number, string>();
for (const e of ev) {
  const t = Number(e.eventTime!.seconds) * 1000 + (e.eventTime!.nanos ?? 0) / 1e6 - t0;
  const type = String(e.eventType);
  let extra = '';
  if (e.activityTaskScheduledEventAttributes) { extra = e.activityTaskScheduledEventAttributes.activityType?.name ?? ''; sched.set(Number(e.eventId), extra); }
  if (e.activityTaskStartedEventAttributes) extra = sched.get(Number(e.activityTaskStartedEventAttributes.scheduledEventId)) ?? '';
  if (e.activityTaskCompletedEventAttributes) extra = sched.get(Number(e.activityTaskCompletedEventAttributes.scheduledEventId)) ?? '';
  if (e.workflowExecutionSignaledEventAttributes) extra = e.workflowExecutionSignaledEventAttributes.signalName ?? '';
  console.log(t.toFixed(0).padStart(6), type.replace('EVENT_TYPE_', ''), extra);
}
await connection.close();
