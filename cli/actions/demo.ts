import { join } from 'node:path';
import type { ProbeRate } from '../../runs/summary.ts';
import { buildDemo, DEMO_SAMPLER } from '../../engine/demo/build.ts';
import type { DemoPaths } from '../../engine/demo/build.ts';
import { FileStore } from '../../store/objects.ts';
import { auditLocally, describeSummary } from './audit.ts';
import type { AuditArgs } from './audit.ts';
import { EXIT } from '../exit.ts';

export interface DemoArgs {
  out: string;
  json: boolean;
}

export interface DemoResult {
  extractor: string;
  flipInvariant: boolean;
  runId: string;
  report: string;
  hflip: ProbeRate;
}

/**
 * The README's main command: builds the demo bundles from real MNIST digits and audits the
 * flip-invariant and the layout extractor on the same held-out digits with the same seed.
 */
export async function runDemo(args: DemoArgs): Promise<number> {
  const say = (s: string) => args.json || process.stdout.write(s + '\n');
  const results = await demoAudits(args, say);
  const line = (r: DemoResult) =>
    `  ${r.extractor.padEnd(24)} hflip nearest for ${(100 * r.hflip.sampleRate).toFixed(0).padStart(3)}% of samples, ${(100 * r.hflip.imageRate).toFixed(0).padStart(3)}% of images`;
  if (args.json) process.stdout.write(JSON.stringify({ results }) + '\n');
  else {
    say('\nPlanted invariance check (fiber samples nearest to the mirrored query):');
    for (const r of results) say(line(r));
    say(`\nReports:\n${results.map((r) => `  ${r.report}`).join('\n')}`);
  }
  return EXIT.ok;
}

/** The audit the demo runs for one of its extractors (shared with the sampler benchmark). */
export function demoAuditArgs(paths: DemoPaths, extractor: string, out: string, json: boolean): AuditArgs {
  return {
    ...DEMO_SAMPLER,
    dataset: paths.dataset,
    prior: paths.prior,
    extractor,
    out,
    engine: 'local',
    batchImages: 10,
    shardSize: 10,
    concurrency: 1,
    resizeQueries: false,
    json,
    provider: 'cpu',
  };
}

/** Builds the demo and audits both extractors; one result per extractor, the layout one first. */
export async function demoAudits(args: DemoArgs, say: (s: string) => unknown = () => undefined): Promise<DemoResult[]> {
  say(`building the demo bundles from MNIST digits in ${args.out} ...`);
  const paths = await buildDemo(join(args.out, 'bundles'));
  const store = new FileStore(args.out);
  const results: DemoResult[] = [];
  for (const ex of paths.extractors) {
    const result = await auditLocally(demoAuditArgs(paths, ex.path, store.location, args.json), store, ex.name);
    say(describeSummary(result.summary, store.location, result.reportKey));
    const hflip = result.summary.probes.find((p) => p.probe === 'hflip')!;
    results.push({ extractor: ex.name, flipInvariant: ex.flipInvariant, runId: result.runId, report: join(args.out, result.reportKey), hflip });
  }
  return results;
}
