/**
 * End-to-end throughput of the Temporal pipeline next to the local engine on the same work, and what a
 * 10× larger dataset costs the workers. Needs the services of infra/services.sh (it writes only under its
 * own S3 prefix and task queues, and removes them at the end). The pair is the fastest real one: an
 * analytic Gaussian prior over 1×4×4 images and a linear extractor (test/fixtures/tiny-pair.ts), so the
 * figures measure the pipeline (listing, activities, S3 round trips, workflow tasks), not the sampler.
 *
 *   1. throughput: the same audit (N images in S3, K = 1, 2 guided steps) once on the local engine and
 *      once through Temporal (a control and a sampling worker, each a process of its own); images/s of
 *      each from submit to summary, and their ratio (goal ≥ 0.9).
 *   2. scale: manifests of M and 10·M entries (default 10,000 and 100,000), each audited through fresh
 *      workers with small shards and few shards per execution until the workflow has continued as new
 *      a few times; then the audit is terminated. Prints the events of each finished execution (bounded
 *      history: the same for either size) and the peak RSS (VmHWM) of both workers (goal: flat).
 *
 *   eval "$(infra/services.sh env)"; node --import tsx bench/pipeline-throughput.ts [--images 800]
 *        [--batch-images 16] [--shard-size 100] [--window 4] [--scale-entries 10000] [--scale-shard 100] [--executions 3]
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { runRequestOf } from '../activities/control.ts';
import { runLocalAudit } from '../activities/local-engine.ts';
import { cachedPairLoader } from '../activities/pairs.ts';
import type { NewRun } from '../activities/run.ts';
import { temporalSettingsFromEnv } from '../workers/env.ts';
import { auditWorkflowId } from '../workflows/audit.ts';
import type { AuditOptions } from '../workflows/audit.ts';
import { auditDatasetWorkflow } from '../workflows/index.ts';
import { s3Store, uniqueName, uploadFolder, useServiceEnvironment } from '../test/integration/services.ts';
import { tinyImage, tinySampler, writeTinyPair } from '../test/fixtures/tiny-pair.ts';

const { values } = parseArgs({
  options: {
    images: { type: 'string', default: '800' },
    'batch-images': { type: 'string', default: '16' },
    'shard-size': { type: 'string', default: '100' },
    window: { type: 'string', default: '4' },
    'scale-entries': { type: 'string', default: '10000' },
    executions: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '5' },
    'scale-shard': { type: 'string', default: '100' },
  },
});
const N = Number(values.images);
const batchImages = Number(values['batch-images']);
const shardSize = Number(values['shard-size']);
const window = Number(values.window);
const scaleEntries = Number(values['scale-entries']);
const executions = Number(values.executions);
const scaleShard = Number(values['scale-shard']);
const rounds = Number(values.rounds);
// Both engines start from empty bundle and gradient caches: the workers get their own below.
process.env.FIBERSCOPE_CACHE_DIR = await mkdtemp(join(tmpdir(), 'fiberscope-bench-cache-'));

const bucket = useServiceEnvironment();
const prefix = uniqueName('bench/pipeline');
const store = await s3Store(prefix);
const s3 = (key: string) => `s3://${bucket}/${prefix}/${key}`;
const storeSpec = s3('store');
const bin = fileURLToPath(new URL('../bin/fiberscope.js', import.meta.url));
const dir = await mkdtemp(join(tmpdir(), 'fiberscope-bench-pipeline-'));
const pair = await writeTinyPair(dir);
const images = join(dir, 'images');
await mkdir(images);
for (let i = 0; i < N; i++) await writeFile(join(images, `q${String(i).padStart(6, '0')}.png`), tinyImage(i));
await uploadFolder(store, images, 'dataset');
await uploadFolder(store, pair.prior, 'bundles/prior');
await uploadFolder(store, pair.extractor, 'bundles/extractor');

const spec = (runId: string, dataset: string, over: Partial<NewRun> = {}): NewRun => ({
  runId,
  dataset,
  prior: s3('bundles/prior'),
  extractor: s3('bundles/extractor'),
  samplesPerImage: 1,
  sampler: tinySampler(),
  preset: 'imagenet-dinov2',
  probes: ['hflip'],
  batchImages,
  shardSize,
  resizeQueries: false,
  provider: 'cpu',
  ...over,
});

interface WorkerProcess {
  child: ChildProcess;
  peakRssMb: () => Promise<number>;
  stop: () => Promise<void>;
}

const started = new Set<ChildProcess>();

/** A `fiberscope worker` process on its own queue, ready once it has printed its start line. */
async function startWorker(queue: 'control' | 'sampling', taskQueue: string): Promise<WorkerProcess> {
  const child = spawn(process.execPath, [bin, 'worker', '--queue', queue, '--task-queue', taskQueue, '--store', storeSpec, '--http-port', '0'], {
    env: { ...process.env, FIBERSCOPE_CACHE_DIR: join(dir, `cache-${taskQueue}`) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  started.add(child);
  child.once('exit', () => started.delete(child));
  let log = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      log += d.toString();
      if (log.includes(`${queue} worker:`)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`${queue} worker exited with ${code}:\n${log}`)));
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    child,
    peakRssMb: async () => Number(/VmHWM:\s+(\d+) kB/.exec(await readFile(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

const { address, namespace } = temporalSettingsFromEnv();
const connection = await Connection.connect({ address });
const client = new Client({ connection, namespace });
const fmt = (v: number, d = 1) => v.toFixed(d);

try {
  // 1. Throughput: the same audit on both engines, in rounds whose order alternates. Round 1 finds
  // every process cold (fresh workers, a fresh bench process, empty bundle and gradient caches on both
  // sides); later rounds are the steady state of long-lived workers and of a warm local process.
  const controlQueue = uniqueName('bench-control');
  const samplingQueue = uniqueName('bench-sampling');
  const control = await startWorker('control', controlQueue);
  const sampling = await startWorker('sampling', samplingQueue);
  const loadPair = cachedPairLoader();
  const localStore = await s3Store(`${prefix}/store`);
  interface Timed {
    seconds: number;
    ok: number;
  }
  const timeLocal = async (): Promise<Timed> => {
    const t = performance.now();
    const local = await runLocalAudit(spec(uniqueName('local'), s3('dataset')), { store: localStore, loadPair });
    return { seconds: (performance.now() - t) / 1000, ok: local.summary.samples.ok };
  };
  const timeTemporal = async (): Promise<Timed> => {
    const runId = uniqueName('temporal');
    const t = performance.now();
    const result = await client.workflow.execute(auditDatasetWorkflow, {
      taskQueue: controlQueue,
      workflowId: auditWorkflowId(runId),
      args: [{ store: storeSpec, run: runRequestOf(spec(runId, s3('dataset'))), options: { window, samplingQueue } }],
    });
    return { seconds: (performance.now() - t) / 1000, ok: result.okRows };
  };
  console.log(`throughput: ${N} images in S3, K = 1, batches of ${batchImages}, shards of ${shardSize}, window ${window}, one sampling worker`);
  const ratios: number[] = [];
  for (let round = 1; round <= rounds; round++) {
    let local: Timed;
    let temporal: Timed;
    if (round % 2 === 1) {
      local = await timeLocal();
      temporal = await timeTemporal();
    } else {
      temporal = await timeTemporal();
      local = await timeLocal();
    }
    if (temporal.ok !== local.ok) throw new Error(`the engines disagree: ${temporal.ok} vs ${local.ok} ok rows`);
    const ratio = local.seconds / temporal.seconds;
    if (round > 1) ratios.push(ratio);
    console.log(
      `  round ${round}${round === 1 ? ' (cold)' : '       '}  local ${fmt(N / local.seconds).padStart(5)} images/s (${fmt(local.seconds)} s)   ` +
        `Temporal + S3 ${fmt(N / temporal.seconds).padStart(5)} images/s (${fmt(temporal.seconds)} s)   ratio ${fmt(ratio, 2)}`,
    );
  }
  const samplingRss = await sampling.peakRssMb();
  await Promise.all([control.stop(), sampling.stop()]);
  if (ratios.length > 0) {
    const sorted = [...ratios].sort((a, b) => a - b);
    console.log(`  steady-state ratio (rounds 2-${rounds}): median ${fmt(sorted[Math.floor(sorted.length / 2)]!, 2)}, min ${fmt(sorted[0]!, 2)}, max ${fmt(sorted.at(-1)!, 2)} (goal >= 0.9)`);
  }
  console.log(`  sampling worker peak RSS ${fmt(samplingRss, 0)} MB`);

  // 2. Scale: bounded history per execution and flat worker memory, M vs 10·M entries.

  const options: AuditOptions = { window: 2, shardsPerExecution: 2 };
  console.log(`scale: manifests of keys, shards of ${scaleShard}, ${options.shardsPerExecution} shards per execution, ${executions} executions then terminated`);
  for (const entries of executions > 0 ? [scaleEntries, 10 * scaleEntries] : []) {
    const manifest = join(dir, `manifest-${entries}.jsonl`);
    const names = await readdir(images);
    await writeFile(manifest, Array.from({ length: entries }, (_, i) => JSON.stringify({ id: `img-${String(i).padStart(7, '0')}`, path: `images/${names[i % names.length]}` })).join('\n') + '\n');
    const cq = uniqueName('bench-control');
    const sq = uniqueName('bench-sampling');
    const c = await startWorker('control', cq);
    const s = await startWorker('sampling', sq);
    const id = uniqueName(`scale-${entries}`);
    const handle = await client.workflow.start(auditDatasetWorkflow, {
      taskQueue: cq,
      workflowId: auditWorkflowId(id),
      args: [{ store: storeSpec, run: runRequestOf(spec(id, manifest, { shardSize: scaleShard })), options: { ...options, samplingQueue: sq } }],
    });
    const started = performance.now();
    // Follow the chain of executions by the continued-as-new events.
    const events: number[] = [];
    let runIdOf = handle.firstExecutionRunId;
    while (events.length < executions) {
      const h = client.workflow.getHandle(auditWorkflowId(id), runIdOf);
      if ((await h.describe()).status.name === 'RUNNING') {
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      const history = (await h.fetchHistory()).events ?? [];
      events.push(history.length);
      const next = history.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
      if (!next) throw new Error(`execution ${runIdOf} did not continue as new`);
      runIdOf = next;
    }
    const seconds = (performance.now() - started) / 1000;
    const [controlRss, samplingPeak] = [await c.peakRssMb(), await s.peakRssMb()];
    await client.workflow.getHandle(auditWorkflowId(id)).terminate('benchmark: enough executions measured');
    await Promise.all([c.stop(), s.stop()]);
    const sampled = executions * (options.shardsPerExecution ?? 0) * scaleShard;
    console.log(
      `  ${String(entries).padStart(7)} entries (${Math.ceil(entries / scaleShard)} shards): events per execution ${events.join(', ')}; ` +
        `peak RSS control ${fmt(controlRss, 0)} MB, sampling ${fmt(samplingPeak, 0)} MB; ${fmt(sampled / seconds)} images/s`,
    );
  }
} finally {
  // A failed measurement leaves no worker behind.
  for (const child of started) child.kill('SIGKILL');
  for (const key of await store.list('')) await store.delete(key);
  store.client.destroy();
  await connection.close();
}
