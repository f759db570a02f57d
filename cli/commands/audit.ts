import type { Argv } from 'yargs';
import type { CommandSpec } from '../command.ts';
import type { AuditArgs } from '../actions/audit.ts';
import { envDefaults } from '../env.ts';
import { samplerFlags } from '../sampler-options.ts';

/** The flags that define an audit's run (what, where, how it is cut and sampled): shared by `audit` and `schedule create`. */
export function auditRunFlags(y: Argv): Argv {
  return samplerFlags(
    y
      .option('dataset', { type: 'string', describe: 'Folder of images (PNG/JPEG/.npy), a manifest (.txt/.jsonl) or s3://bucket/prefix' })
      .option('prior', { type: 'string', describe: 'Prior bundle: a folder or s3://bucket/prefix' })
      .option('extractor', { type: 'string', describe: 'Extractor bundle (the model under audit): a folder or s3://bucket/prefix' })
      .option('out', { type: 'string', default: envDefaults.store(), describe: 'Store for run folders: a folder or s3://bucket/prefix (env FIBERSCOPE_STORE)' })
      .option('batch-images', { type: 'number', default: 8, describe: 'Query images sampled together in one batch' })
      .option('shard-size', { type: 'number', default: 64, describe: 'Images per shard (the unit of work and retry)' })
      .option('reference', { type: 'string', describe: 'Real images for the nearest-neighbour baseline (folder, manifest or s3://); default: the run\'s own images' })
      .option('limit', { type: 'number', describe: 'Only the first N images of the dataset' })
      .option('resize-queries', { type: 'boolean', default: false, describe: "Resize images of another size to the prior's (bilinear)" })
      .option('window', { type: 'number', default: 4, describe: 'Shards in flight at once (temporal engine)', group: 'Temporal:' })
      .option('task-queue', { type: 'string', describe: 'Task queue of the control workers (default control)', group: 'Temporal:' })
      .option('sampling-queue', { type: 'string', describe: 'Task queue of the sampling workers (default sampling)', group: 'Temporal:' })
      .option('heartbeat-timeout', { type: 'number', describe: 'Seconds without a heartbeat before a sampling worker is presumed lost and its shard retried (default 120)', group: 'Temporal:' })
      .option('shard-timeout', { type: 'number', describe: 'Longest one attempt at a shard may take, in seconds (default 12 hours)', group: 'Temporal:' })
      .option('shard-attempts', { type: 'number', describe: 'Attempts per shard before the audit fails (default 5)', group: 'Temporal:' }),
  );
}

export const audit: CommandSpec = {
  command: 'audit',
  describe: 'Audit a model on a dataset: K fiber samples per image, a run folder with tables and a report',
  builder: (y) =>
    auditRunFlags(y)
      .option('run-id', { type: 'string', describe: 'Run id (default: time + random suffix)' })
      .option('resume', { type: 'string', describe: 'Resume the run with this id: finished shards and batches are kept' })
      .option('engine', { type: 'string', choices: ['local', 'temporal'], default: 'local', describe: 'local: in this process; temporal: submit to a cluster' })
      .option('concurrency', { type: 'number', default: 1, describe: 'Shards sampled at once (local engine)' })
      .option('detach', { type: 'boolean', default: false, describe: 'Submit, print the run id and return (temporal engine)', group: 'Temporal:' })
      .option('follow', { type: 'string', describe: 'Attach to the audit of this run id (from any machine): progress, then its summary and exit code', group: 'Temporal:' })
      .option('json', { type: 'boolean', default: false, describe: 'Print the run summary as JSON' })
      .check((a) => {
        if (a.follow !== undefined) {
          if (a.engine !== 'temporal') return '--follow needs --engine temporal';
          return true;
        }
        if (a.resume === undefined && (a.dataset === undefined || a.prior === undefined || a.extractor === undefined)) {
          return 'give --dataset, --prior and --extractor (or --resume RUN_ID)';
        }
        return true;
      }),
  run: async (args) => (await import('../actions/audit.ts')).runAudit(args as unknown as AuditArgs),
};
