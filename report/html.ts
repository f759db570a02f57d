import type { RunConfig } from '../runs/manifest.ts';
import type { Quantiles, RunSummary } from '../runs/summary.ts';
import type { ImageRow } from '../store/image-tables.ts';
import { runLayout } from '../store/layout.ts';
import type { SampleRow } from '../store/tables.ts';

export interface ReportInput {
  config: RunConfig;
  summary: RunSummary;
  images: ImageRow[];
  samples: SampleRow[];
}

const esc = (s: unknown) =>
  String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const num = (v: number | null | undefined, digits = 3) =>
  v === null || v === undefined || !Number.isFinite(v) ? '–' : Math.abs(v) >= 1000 ? v.toFixed(0) : v.toPrecision(digits);

/** Images shown with their fibers; the rest are in summary.arrow. */
const MAX_IMAGES = 200;

function quantileRow(name: string, q: Quantiles): string {
  return `<tr><th>${esc(name)}</th><td>${q.count}</td><td>${num(q.min)}</td><td>${num(q.p25)}</td><td>${num(q.median)}</td><td>${num(q.p75)}</td><td>${num(q.max)}</td><td>${num(q.mean)}</td></tr>`;
}

function bar(rate: number): string {
  const w = Math.round(rate * 200);
  return `<span class="bar" style="width:${w}px"></span> ${(100 * rate).toFixed(1)}%`;
}

/**
 * The run's HTML report: what the model ignores (the invariance profile: which transforms of the
 * query its fiber samples land nearest to), metric distributions, then every image with its fiber,
 * the images whose samples stray furthest from the query in pixels (what φ ignores most) first.
 */
export function renderReport({ config, summary, images, samples }: ReportInput): string {
  const base = runLayout(config.runId).base + '/';
  const rel = (key: string | null) => (key && key.startsWith(base) ? key.slice(base.length) : (key ?? ''));
  const byImage = new Map<string, SampleRow[]>();
  for (const r of samples) byImage.set(r.image_id, [...(byImage.get(r.image_id) ?? []), r]);
  const ordered = [...images].sort(
    (a, b) => (b.pixel_distance_mean ?? -Infinity) - (a.pixel_distance_mean ?? -Infinity) || a.image_id.localeCompare(b.image_id),
  );
  const fired = summary.probes.filter((p) => p.probe !== 'none' && p.sampleRate > 0);
  const headline = fired[0]
    ? `Most often, fiber samples land nearest to <b>${esc(fired[0].probe)}</b> of the query (${(100 * fired[0].sampleRate).toFixed(1)}% of samples, ${(100 * fired[0].imageRate).toFixed(1)}% of images): the model treats that transform as the same image.`
    : 'No probe transform was nearer to the samples than the query itself.';

  const imageBlocks = ordered.slice(0, MAX_IMAGES).map((img) => {
    const rows = (byImage.get(img.image_id) ?? []).sort((a, b) => a.sample_index - b.sample_index);
    const cells = rows
      .map((r) =>
        r.status === 'ok'
          ? `<figure><img src="${esc(rel(r.image_key))}" alt="sample ${r.sample_index}"><figcaption>#${r.sample_index} ${esc(r.fiber_metric_name)} ${num(r.fiber_metric)}<br>px ${num(r.pixel_distance)} · ${esc(r.nearest_probe)}</figcaption></figure>`
          : `<figure class="err"><div class="errbox">error</div><figcaption>#${r.sample_index} ${esc(r.error)}</figcaption></figure>`,
      )
      .join('');
    const query = img.query_key
      ? `<figure class="query"><img src="${esc(rel(img.query_key))}" alt="query"><figcaption>query<br>nn ${num(img.nn_baseline)}</figcaption></figure>`
      : `<figure class="err"><div class="errbox">unreadable</div><figcaption>${esc(img.error)}</figcaption></figure>`;
    return `<section class="image"><h3>${esc(img.image_id)} <small>diversity ${num(img.diversity)} · top probe ${esc(img.top_probe ?? '–')} (${num(img.top_probe_rate === null ? null : 100 * img.top_probe_rate, 2)}%)</small></h3><div class="row">${query}${cells}</div></section>`;
  });

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>fiberscope run ${esc(config.runId)}</title>
<style>
body{font:14px system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}
table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ddd;padding:4px 8px;text-align:right}th{text-align:left;background:#f6f6f6}
.bar{display:inline-block;height:10px;background:#3b6fd4;vertical-align:middle}
.row{display:flex;flex-wrap:wrap;gap:8px}figure{margin:0;text-align:center;font-size:11px;color:#555}
figure img{width:96px;height:96px;image-rendering:pixelated;border:1px solid #ccc}
figure.query img{border:2px solid #d43b3b}.errbox{width:96px;height:96px;background:#fdd;display:flex;align-items:center;justify-content:center}
section.image{border-top:1px solid #eee;padding:8px 0}h3{margin:4px 0;font-size:14px}h3 small{font-weight:normal;color:#777}
.headline{font-size:16px;background:#f3f7ff;padding:12px;border-left:4px solid #3b6fd4}
</style></head><body>
<h1>fiberscope run <code>${esc(config.runId)}</code></h1>
<p>Prior <b>${esc(config.prior.id)}</b> · extractor <b>${esc(config.extractor.id)}</b> · variant ${esc(config.sampler.variant)} · ${config.samplesPerImage} samples per image · ${config.sampler.steps} steps × ${config.sampler.innerSteps} inner · seed ${esc(config.sampler.seed)} · created ${esc(config.createdAt)}</p>
<p class="headline">${headline}</p>
<h2>Counts</h2>
<table><tr><th></th><th>total</th><th>ok</th><th>error</th></tr>
<tr><th>images</th><td>${summary.images.total}</td><td>${summary.images.ok}</td><td>${summary.images.error}</td></tr>
<tr><th>samples</th><td>${summary.samples.total}</td><td>${summary.samples.ok}</td><td>${summary.samples.error}</td></tr></table>
<h2>Invariance profile</h2>
<p>For each sample, the transform of its query it is nearest to in pixels (<i>none</i>: the query itself).</p>
<table><tr><th>probe</th><th>samples nearest</th><th>images with ≥ 1 such sample</th></tr>
${summary.probes.map((p) => `<tr><th>${esc(p.probe)}</th><td style="text-align:left">${bar(p.sampleRate)}</td><td style="text-align:left">${bar(p.imageRate)}</td></tr>`).join('\n')}
</table>
<h2>Metric distributions</h2>
<table><tr><th>metric</th><th>n</th><th>min</th><th>p25</th><th>median</th><th>p75</th><th>max</th><th>mean</th></tr>
${quantileRow(`fiber metric (${summary.fiberMetricName})`, summary.fiberMetric)}
${quantileRow('optimised cost', summary.cost)}
${quantileRow('pixel distance to query (RMS)', summary.pixelDistance)}
${quantileRow('diversity of the K samples', summary.diversity)}
${quantileRow('nearest real neighbour (squared L2)', summary.nnBaseline)}
</table>
<p>Median ratio of fiber metric to the nearest-real-neighbour baseline: <b>${num(summary.fiberToNeighbourRatio)}</b> (below 1: the samples are closer to the query in the model's eyes than any other real image).</p>
<h2>Fibers (largest pixel distance first${images.length > MAX_IMAGES ? `, first ${MAX_IMAGES} of ${images.length}` : ''})</h2>
${imageBlocks.join('\n')}
</body></html>
`;
}
