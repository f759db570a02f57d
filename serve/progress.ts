import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import type { RunStatusRecord } from '../runs/status.ts';
import { auditProgressQuery, auditWorkflowId } from '../workflows/audit.ts';
import type { AuditProgress } from '../workflows/audit.ts';

/** The workflow's progress query with the rates a person reads off a dashboard. */
export interface LiveProgress extends AuditProgress {
  imagesPerSecond: number | null;
  /** Seconds until every image is sampled at the rate so far; null before the first image. */
  etaSeconds: number | null;
}

export function withRates(p: AuditProgress, now = Date.now()): LiveProgress {
  const elapsed = (now - Date.parse(p.startedAt)) / 1000;
  const rate = p.imagesDone > 0 && elapsed > 0 ? p.imagesDone / elapsed : null;
  return { ...p, imagesPerSecond: rate, etaSeconds: rate === null ? null : Math.max(0, p.imagesTotal - p.imagesDone) / rate };
}

/** A Temporal call that does not answer in this long leaves the page without live figures, not hanging. */
const ANSWER_MS = 3000;

function timeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ANSWER_MS} ms`)), ANSWER_MS))),
  ]);
}

/**
 * Live progress of Temporal audits: one connection, opened on first use and opened again after a
 * failure, so the dashboard starts and serves the store while Temporal is down.
 */
export class TemporalProgress {
  private client: Promise<Client> | null = null;

  constructor(
    readonly address: string,
    readonly namespace: string,
  ) {}

  private connect(): Promise<Client> {
    this.client ??= Connection.connect({ address: this.address, connectTimeout: ANSWER_MS }).then(
      (connection) => new Client({ connection, namespace: this.namespace }),
      (err: unknown) => {
        this.client = null;
        throw err;
      },
    );
    return this.client;
  }

  private workflowId(runId: string, status: RunStatusRecord | null): string {
    return status?.workflowId ?? auditWorkflowId(runId);
  }

  /** The audit's progress; null when Temporal does not answer or the workflow has none. */
  async progress(runId: string, status: RunStatusRecord | null): Promise<LiveProgress | null> {
    try {
      const client = await this.connect();
      const p = await timeout(client.workflow.getHandle(this.workflowId(runId, status)).query(auditProgressQuery), 'progress query');
      return withRates(p);
    } catch {
      return null;
    }
  }

  /** Whether the audit's workflow still runs; a Temporal that does not answer leaves the record's word standing. */
  async stillRunning(runId: string, status: RunStatusRecord): Promise<boolean> {
    try {
      const client = await this.connect();
      const d = await timeout(client.workflow.getHandle(this.workflowId(runId, status)).describe(), 'workflow describe');
      return d.status.name === 'RUNNING';
    } catch (err) {
      return !(err instanceof WorkflowNotFoundError);
    }
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = null;
    await client?.then((c) => c.connection.close()).catch(() => undefined);
  }
}
