import { join } from 'node:path';
import { summarizeModel } from '../../engine/autodiff/coverage.ts';
import type { ModelSummary } from '../../engine/autodiff/coverage.ts';
import { readBundleManifest } from '../../engine/priors/bundle.ts';
import type { ExtractorManifest, PriorManifest } from '../../engine/priors/bundle.ts';
import { loadExtractorBundle, loadPriorBundle } from '../../engine/priors/load.ts';
import type { Model } from '../../engine/onnx/index.ts';
import { EXIT } from '../exit.ts';
import type { InspectOptions } from './models.ts';

interface BundleModel {
  role: string;
  file: string;
  summary: ModelSummary;
}

function models(dir: string, manifest: PriorManifest | ExtractorManifest, loaded: Record<string, Model | undefined>): BundleModel[] {
  const files: [string, string][] =
    manifest.kind === 'prior'
      ? [
          ['denoiser', manifest.denoiser.file],
          ...(manifest.latent ? ([['decoder', manifest.latent.decoder.file]] as [string, string][]) : []),
          ...(manifest.latent?.encoder ? ([['encoder', manifest.latent.encoder.file]] as [string, string][]) : []),
        ]
      : [['extractor', manifest.model.file]];
  return files.map(([role, file]) => ({ role, file: join(dir, file), summary: summarizeModel(loaded[role]!) }));
}

/**
 * `models inspect DIR` on a bundle: validates the manifest and every declared name against its ONNX
 * files (the same checks a run does before it starts), then prints each model's operators and
 * whether every one has a gradient rule.
 */
export async function inspectBundle(dir: string, options: InspectOptions): Promise<number> {
  const out = options.out ?? process.stdout;
  const manifest = await readBundleManifest(dir);
  let list: BundleModel[];
  if (manifest.kind === 'prior') {
    const p = await loadPriorBundle(dir);
    list = models(dir, manifest, { denoiser: p.denoiser, decoder: p.decoder, encoder: p.encoder });
  } else {
    const e = await loadExtractorBundle(dir);
    list = models(dir, manifest, { extractor: e.model });
  }
  const missing = [...new Set(list.flatMap((m) => m.summary.missing))];
  if (options.json) {
    out.write(`${JSON.stringify({ path: dir, manifest, models: list.map((m) => ({ role: m.role, file: m.file, ...m.summary })), missing })}\n`);
    return EXIT.ok;
  }
  const lines = [`${dir}: ${manifest.kind} bundle${manifest.name ? ` '${manifest.name}'` : ''} (manifest version ${manifest.version}, valid)`];
  if (manifest.kind === 'prior') {
    const d = manifest.denoiser;
    lines.push(
      `  ${manifest.type} prior, prediction ${d.prediction}${d.varianceChannels ? ' + variance channels' : ''}, image ${manifest.image.channels}×${manifest.image.height}×${manifest.image.width} in [${manifest.image.range.join(', ')}]` +
        (manifest.schedule ? `, schedule ${manifest.schedule.type} ${manifest.schedule.betaStart}→${manifest.schedule.betaEnd} over ${manifest.schedule.timesteps}` : '') +
        (manifest.latent ? `, latent ${manifest.latent.shape.join('×')} scale ${manifest.latent.scale}` : ''),
    );
  } else {
    lines.push(`  loss ${manifest.loss}, metric ${manifest.metric}, preprocess: ${manifest.preprocess.map((s) => s.op).join(' → ') || 'none'}`);
  }
  for (const m of list) {
    const s = m.summary;
    lines.push(`  ${m.role}: ${m.file} — ${s.nodes} nodes, opsets ${Object.entries(s.opsets).map(([k, v]) => `${k || 'ai.onnx'} ${v}`).join(', ')}`);
    lines.push(`    operators: ${s.operators.map((o) => `${o.op}×${o.count}${o.gradient === 'missing' || o.gradient === 'non-standard domain' ? ' (NO GRADIENT)' : ''}`).join(', ')}`);
  }
  lines.push(missing.length ? `  gradient: no rule for ${missing.join(', ')}: sampling will refuse this bundle if they lie on the gradient path` : '  gradient: every operator is covered');
  out.write(`${lines.join('\n')}\n`);
  return EXIT.ok;
}
