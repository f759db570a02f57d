import { describeRun, listRuns, resolveRun } from '../../runs/catalogue.ts';
import type { RunDetails, RunEntry } from '../../runs/catalogue.ts';
import { InputError } from '../../engine/errors.ts';
import { openStore } from '../../store/objects.ts';
import type { RunStatusRecord } from '../../runs/status.ts';
import { TemporalProgress } from '../../serve/progress.ts';
import { temporalSettingsFromEnv } from '../../workers/env.ts';
import { EXIT } from '../exit.ts';

export interface RunsArgs {
  action: 'list' | 'show';
  run?: string;
  store: string;
  json: boolean;
}

const short = (fingerprints: Record<string, string>) =>
  Object.entries(fingerprints)
    .filter(([f]) => f.endsWith('.onnx'))
    .map(([, h]) => h.slice(0, 8))
    .join(',');

const samplesOf = (e: RunEntry) => (e.samples ? `${e.samples.ok}/${e.samples.error}` : '–');

/** Columns padded to their widest cell; the last one is left ragged. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

export function describeRunList(entries: readonly RunEntry[], location: string): string {
  if (entries.length === 0) return `no runs in ${location}`;
  return table(
    ['RUN', 'STATUS', 'CREATED', 'PRIOR', 'EXTRACTOR', 'IMAGES', 'OK/ERR', 'TOP PROBE', 'SCHEDULE'],
    entries.map((e) => [
      e.runId,
      e.status,
      e.createdAt.replace(/\.\d+Z$/, 'Z'),
      `${e.prior.id} ${short(e.prior.fingerprints)}`,
      `${e.extractor.id} ${short(e.extractor.fingerprints)}`,
      String(e.images),
      samplesOf(e),
      e.topProbe ?? '–',
      e.schedule?.id ?? '–',
    ]),
  );
}

export function describeRunDetails(d: RunDetails): string {
  const c = d.config;
  const lines = [
    `run ${d.runId}: ${d.status}${d.engine ? ` (${d.engine} engine)` : ''}`,
    `  location   ${d.location}`,
    `  created    ${d.createdAt}${d.updatedAt ? `, updated ${d.updatedAt}` : ''}`,
    `  prior      ${d.prior.id}  ${Object.entries(d.prior.fingerprints).map(([f, h]) => `${f} ${h.slice(0, 12)}`).join(', ')}`,
    `  extractor  ${d.extractor.id}  ${Object.entries(d.extractor.fingerprints).map(([f, h]) => `${f} ${h.slice(0, 12)}`).join(', ')}`,
    `  dataset    ${c.dataset} (${d.images} images, ${c.samplesPerImage} samples each)`,
    `  sampler    seed ${c.sampler.seed}, ${c.sampler.steps} steps, variant ${c.sampler.variant}, probes ${c.probes.join(',')}`,
    `  shards     ${d.shardsDone}/${d.shardsTotal} written`,
    `  samples    ${d.samples ? `${d.samples.ok} ok, ${d.samples.error} error` : 'not summarized yet'}`,
  ];
  if (d.summary) {
    const probes = d.summary.probes.filter((p) => p.sampleRate > 0).map((p) => `${p.probe} ${(100 * p.sampleRate).toFixed(0)}%`);
    lines.push(`  probes     ${probes.join(', ') || 'none fired'}`);
  }
  if (d.schedule) lines.push(`  schedule   ${d.schedule.id} (action at ${d.schedule.actionTime})`);
  if (d.error) lines.push(`  error      ${d.error.kind}: ${d.error.message}`);
  return lines.join('\n');
}

/** `fiberscope runs list|show`. */
export async function runRuns(args: RunsArgs, out: NodeJS.WritableStream = process.stdout): Promise<number> {
  // A run recorded as running on Temporal is checked there (only then is Temporal asked): an audit
  // whose failure could not be recorded (its store was down) is not shown running for ever.
  const { address, namespace } = temporalSettingsFromEnv();
  const temporal = new TemporalProgress(address, namespace);
  const opts = { stillRunning: (runId: string, status: RunStatusRecord) => temporal.stillRunning(runId, status) };
  try {
    if (args.action === 'list') {
      const store = openStore(args.store);
      const entries = await listRuns(store, opts);
      out.write((args.json ? JSON.stringify(entries) : describeRunList(entries, store.location)) + '\n');
      return EXIT.ok;
    }
    if (args.run === undefined) throw new InputError('run', 'runs show needs a RUN: a run id in --store, a run folder or an s3:// URI of one');
    const { store, runId } = resolveRun(args.run, args.store, 'run');
    const details = await describeRun(store, runId, opts);
    out.write((args.json ? JSON.stringify(details) : describeRunDetails(details)) + '\n');
    return EXIT.ok;
  } finally {
    await temporal.close();
  }
}
