import { basename } from 'node:path';
import { fingerprintBundle } from '../../activities/run.ts';
import { decodeQuery, measureFibers } from '../../runs/fibers.ts';
import { OnnxFiberObjective } from '../../engine/guidance/compose.ts';
import { priorInfo } from '../../engine/priors/bundle.ts';
import { loadExtractorBundle, loadPriorBundle } from '../../engine/priors/load.ts';
import type { Provider } from '../../engine/runtime/index.ts';
import { engineCaches, localBundle } from '../../store/bundles.ts';
import { encodePng } from '../../store/images.ts';
import { writeNpy } from '../../store/npy.ts';
import { openStore, readObjectAt } from '../../store/objects.ts';
import { EXIT } from '../exit.ts';
import { progressBar } from '../progress.ts';
import { probesFromArgs, samplerOptionsFromArgs, samplesPerImage } from '../sampler-options.ts';
import type { SamplerArgs } from '../sampler-options.ts';

export interface SampleArgs extends SamplerArgs {
  prior: string;
  extractor: string;
  query: string;
  out: string;
  resizeQuery: boolean;
  json: boolean;
}

export async function runSample(args: SampleArgs): Promise<number> {
  // Everything the user gave is checked before any sampling starts.
  const [priorDir, extractorDir] = await Promise.all([localBundle(args.prior), localBundle(args.extractor)]);
  const [prior, extractor] = await Promise.all([loadPriorBundle(priorDir), loadExtractorBundle(extractorDir)]);
  const info = priorInfo(prior.manifest);
  const options = samplerOptionsFromArgs(args, info);
  const probes = probesFromArgs(args);
  const K = samplesPerImage(args);
  const bytes = await readObjectAt(args.query, '--query');
  // The output is checked before sampling too: an unreachable store must not cost the sampling.
  const out = openStore(args.out);
  await out.list('samples.');
  const imageId = basename(args.query).replace(/\.[^.]+$/, '');
  const image = decodeQuery(bytes, `--query ${args.query}`, args.query, info, args.resizeQuery || prior.manifest.image.resize);
  const [priorRef, extractorRef] = await Promise.all([fingerprintBundle(args.prior), fingerprintBundle(args.extractor)]);
  const caches = engineCaches();
  const objective = await OnnxFiberObjective.create(prior, extractor, {
    runtime: { provider: (args.provider ?? 'cpu') as Provider, sessionCache: caches.sessions },
    gradientCache: caches.gradients,
  });

  const bar = progressBar('sampling', !args.json && Boolean(process.stderr.isTTY));
  const started = performance.now();
  const [fiber] = await measureFibers(
    { objective, metric: extractor.manifest.metric },
    options,
    probes,
    [{ imageId, image, sampleIndices: Array.from({ length: K }, (_, k) => k) }],
    { runId: 'sample', seed: options.seed.toString(), priorId: priorRef.id, extractorId: extractorRef.id },
    { onStep: (done, total) => bar.update(done, total) },
  );
  bar.done();
  const seconds = (performance.now() - started) / 1000;

  const shape = info.imageShape as [number, number, number];
  const size = shape[0] * shape[1] * shape[2];
  const stacked = new Float32Array(K * size).fill(Number.NaN);
  fiber!.samples.forEach((s, k) => s && stacked.set(s, k * size));
  await out.put('query.png', encodePng(image, shape, info.imageRange), 'image/png');
  for (const [k, row] of fiber!.rows.entries()) {
    const s = fiber!.samples[k];
    if (!s) continue;
    row.image_key = `${row.sample_index}.png`;
    await out.put(row.image_key, encodePng(s, shape, info.imageRange), 'image/png');
  }
  await out.put('samples.npy', writeNpy(stacked, [K, ...shape]));
  // The table last: its presence says the folder is complete.
  // Arrow is loaded only now, off the start-up path (about 0.5 s of imports).
  const { sampleRowsToIpc } = await import('../../store/tables.ts');
  await out.put('samples.arrow', sampleRowsToIpc(fiber!.rows, probes));

  const ok = fiber!.rows.filter((r) => r.status === 'ok');
  const result = {
    out: args.out,
    samples: K,
    ok: ok.length,
    seconds,
    variant: options.variant,
    fiberMetric: fiber!.image.fiber_metric_mean,
    fiberMetricName: extractor.manifest.metric,
    diversity: fiber!.image.diversity,
    topProbe: fiber!.image.top_probe,
  };
  if (args.json) {
    process.stdout.write(JSON.stringify(result) + '\n');
  } else {
    process.stdout.write(
      `${ok.length}/${K} samples in ${seconds.toFixed(1)}s → ${args.out}\n` +
        fiber!.rows
          .map((r) => `  #${r.sample_index} ${r.status === 'ok' ? `${r.fiber_metric_name} ${r.fiber_metric?.toPrecision(4)}  pixel ${r.pixel_distance?.toFixed(3)}  nearest ${r.nearest_probe}` : `error: ${r.error}`}`)
          .join('\n') +
        '\n',
    );
  }
  return ok.length > 0 ? EXIT.ok : EXIT.internal;
}
