import type { GateVerdict } from '../gate/verdict.ts';
import type { CrossSummary } from '../runs/cross.ts';
import type { RunConfig } from '../runs/manifest.ts';
import { fiberToNeighbourRatio } from '../runs/summary.ts';
import type { Quantiles, RunSummary } from '../runs/summary.ts';
import type { ImageRow } from '../store/image-tables.ts';
import { runLayout } from '../store/layout.ts';
import type { SampleRow } from '../store/sample-rows.ts';
import { histogram, histogramSvg } from './charts.ts';
import type { Histogram } from './charts.ts';
import { esc, num, page, percent } from './html.ts';

/**
 * The run page: one renderer for the dashboard's `/runs/<runId>/` and the static report.html, so a
 * report mailed or archived reads like the dashboard. The rows are prepared once per run
 * (`runView`); a page then renders one slice of images, so its size and time do not grow with
 * the run.
 */

export interface RunView {
  config: RunConfig;
  summary: RunSummary;
  /** Worst first: the images whose samples stray furthest from the query in pixels (what φ ignores most). */
  ordered: ImageRow[];
  samplesByImage: Map<string, SampleRow[]>;
  errorSamples: SampleRow[];
  fiberMetric: Histogram;
  /** Per image: mean fiber metric over the nearest-real-neighbour baseline. */
  ratio: Histogram;
  /** Probes that are some image's top probe, for the filter. */
  topProbes: string[];
}

export function runView(config: RunConfig, summary: RunSummary, images: readonly ImageRow[], samples: readonly SampleRow[]): RunView {
  const samplesByImage = new Map<string, SampleRow[]>();
  const errorSamples: SampleRow[] = [];
  for (const r of samples) {
    let list = samplesByImage.get(r.image_id);
    if (list === undefined) samplesByImage.set(r.image_id, (list = []));
    list.push(r);
    if (r.status === 'error') errorSamples.push(r);
  }
  for (const list of samplesByImage.values()) list.sort((a, b) => a.sample_index - b.sample_index);
  const ordered = [...images].sort(
    (a, b) => (b.pixel_distance_mean ?? -Infinity) - (a.pixel_distance_mean ?? -Infinity) || (a.image_id < b.image_id ? -1 : a.image_id > b.image_id ? 1 : 0),
  );
  const ratios = images.map((r) => (r.status === 'ok' ? fiberToNeighbourRatio(r) : null));
  return {
    config,
    summary,
    ordered,
    samplesByImage,
    errorSamples,
    fiberMetric: histogram(samples.map((r) => (r.status === 'ok' ? r.fiber_metric : null))),
    ratio: histogram(ratios),
    topProbes: [...new Set(images.flatMap((r) => (r.top_probe === null ? [] : [r.top_probe])))].sort(),
  };
}

export interface ImageFilter {
  probe?: string;
  /** `error`: an unreadable image or one with a failed sample. */
  status?: 'ok' | 'error';
}

const hasError = (r: ImageRow) => r.status === 'error' || r.samples_ok < r.samples;

export function filterImages(view: RunView, filter: ImageFilter): ImageRow[] {
  if (filter.probe === undefined && filter.status === undefined) return view.ordered;
  return view.ordered.filter(
    (r) => (filter.probe === undefined || r.top_probe === filter.probe) && (filter.status === undefined || (filter.status === 'error') === hasError(r)),
  );
}

export interface RunPageOptions {
  /** A store key (relative to the store root) as a link the page can load. */
  imageHref: (key: string) => string;
  filter: ImageFilter;
  /** 1-based. */
  page: number;
  pageSize: number;
  /** The dashboard's links to other pages and filters; absent in the static report. */
  links?: { pageHref: (filter: ImageFilter, page: number) => string; nav: string; statusHtml: string };
  gate: GateVerdict | null;
  cross: CrossSummary[];
  /** Error rows shown (the rest are counted). */
  errorLimit?: number;
}

function quantileRow(name: string, q: Quantiles): string {
  return `<tr><th>${esc(name)}</th><td>${q.count}</td><td>${num(q.min)}</td><td>${num(q.p25)}</td><td>${num(q.median)}</td><td>${num(q.p75)}</td><td>${num(q.max)}</td><td>${num(q.mean)}</td></tr>`;
}

const bar = (rate: number) => `<span class="bar" style="width:${Math.round(rate * 200)}px"></span> ${percent(rate)}`;

function fingerprints(label: string, ref: RunConfig['prior']): string {
  const files = Object.entries(ref.fingerprints)
    .map(([file, sha]) => `<tr><td class="l">${esc(file)}</td><td class="l fingerprint">${esc(sha)}</td></tr>`)
    .join('');
  return `<h3>${esc(label)} <code>${esc(ref.id)}</code> <small>${esc(ref.path)}</small></h3><table>${files}</table>`;
}

function imagePanel(img: ImageRow, rows: readonly SampleRow[], href: (key: string) => string): string {
  const cells = rows
    .map((r) =>
      r.status === 'ok'
        ? `<figure class="sample"><img src="${esc(href(r.image_key ?? ''))}" alt="sample ${r.sample_index}"><figcaption>#${r.sample_index} ${esc(r.fiber_metric_name)} ${num(r.fiber_metric)}<br>px ${num(r.pixel_distance)} · <span class="probe">${esc(r.nearest_probe)}</span></figcaption></figure>`
        : `<figure class="err"><div class="errbox">error</div><figcaption>#${r.sample_index} ${esc(r.error)}</figcaption></figure>`,
    )
    .join('');
  const query = img.query_key
    ? `<figure class="query"><img src="${esc(href(img.query_key))}" alt="query"><figcaption>query<br>nn ${num(img.nn_baseline)}${img.nn_image_id === null ? '' : ` (${esc(img.nn_image_id)})`}</figcaption></figure>`
    : `<figure class="err"><div class="errbox">unreadable</div><figcaption>${esc(img.error)}</figcaption></figure>`;
  return `<section class="image" data-image="${esc(img.image_id)}"><h3><span class="image-id">${esc(img.image_id)}</span> <small>diversity ${num(img.diversity)} · top probe ${esc(img.top_probe ?? '–')} (${percent(img.top_probe_rate)})</small></h3><div class="row">${query}${cells}</div></section>`;
}

function gateSection(gate: GateVerdict, href: (key: string) => string): string {
  const findings = gate.findings
    .map(
      (f) =>
        `<tr class="${f.regression ? 'regression' : ''}"><td class="l">${esc(f.kind)}</td><td class="l">${esc(f.name)}</td><td>${num(f.baseline)}</td><td>${num(f.candidate)}</td><td>${num(f.effect)}</td><td>${num(f.adjustedP)}</td><td class="l">${esc(f.direction)}</td><td class="l">${f.regression ? '<b>regression</b>' : 'ok'}</td><td class="l">${esc(f.message)}</td></tr>`,
    )
    .join('');
  const worst = gate.worstImages
    .slice(0, 12)
    .map(
      (w) =>
        `<section class="image"><h3>${esc(w.imageId)} <small>change ${num(w.change)}</small></h3><div class="row">${[...w.baselineImages.map((k) => [k, 'baseline'] as const), ...w.candidateImages.map((k) => [k, 'candidate'] as const)]
          .map(([k, who]) => `<figure><img src="${esc(href(k))}" alt="${who}"><figcaption>${who}</figcaption></figure>`)
          .join('')}</div></section>`,
    )
    .join('');
  return `<h2>Gate verdict</h2>
<p class="verdict-${gate.verdict === 'pass' ? 'pass' : 'regression'}"><b>${esc(gate.verdict)}</b> against baseline <code>${esc(gate.baseline.runId)}</code> (${esc(gate.baseline.extractor)}) on ${gate.images} shared images · α ${num(gate.alpha)} · minimum effect ${num(gate.minEffect)} · ${esc(gate.createdAt)}</p>
<table class="gate"><tr><th>kind</th><th>name</th><th>baseline</th><th>candidate</th><th>effect</th><th>adjusted p</th><th>direction</th><th></th><th>message</th></tr>${findings}</table>${worst}`;
}

function crossSection(cross: readonly CrossSummary[]): string {
  const rows = cross
    .map(
      (c) =>
        `<tr><td class="l">${esc(c.extractor.id)}</td><td>${c.images}</td><td>${c.samples}</td><td class="l">${esc(c.fiberMetricName)}</td><td>${num(c.overall.fiberMetricMedian)}</td><td>${num(c.overall.nnBaselineMedian)}</td><td>${num(c.overall.ratioMedian)}</td><td>${percent(c.overall.shareBelowBaseline)}</td></tr>`,
    )
    .join('');
  const probes = cross
    .flatMap((c) =>
      (c.byProbe ?? []).map(
        (p) => `<tr><td class="l">${esc(c.extractor.id)}</td><td class="l">${esc(p.probe)}</td><td>${p.samples}</td><td>${num(p.ratioMedian)}</td><td>${percent(p.shareBelowBaseline)}</td></tr>`,
      ),
    )
    .join('');
  const perProbe =
    probes === ''
      ? ''
      : `<p>Per probe of this run (the transform each sample is nearest to): does the other extractor keep the samples that express that invariance?</p>
<table class="cross"><tr><th>extractor</th><th>samples nearest</th><th>samples</th><th>median ratio</th><th>below baseline</th></tr>${probes}</table>`;
  return `<h2>Cross-model agreement</h2><p>The run's fibers as other extractors see them: a ratio below 1 means that extractor also finds the samples closer to the query than any other real image.</p>
<table class="cross"><tr><th>extractor</th><th>images</th><th>samples</th><th>metric</th><th>median metric</th><th>median nn baseline</th><th>median ratio</th><th>below baseline</th></tr>${rows}</table>${perProbe}`;
}

function filterForm(view: RunView, opts: RunPageOptions): string {
  const { filter } = opts;
  const probeOptions = ['', ...view.topProbes]
    .map((p) => `<option value="${esc(p)}"${(filter.probe ?? '') === p ? ' selected' : ''}>${p === '' ? 'any' : esc(p)}</option>`)
    .join('');
  const statusOptions = ['', 'ok', 'error']
    .map((s) => `<option value="${s}"${(filter.status ?? '') === s ? ' selected' : ''}>${s === '' ? 'any' : s}</option>`)
    .join('');
  return `<form class="filters" method="get"><label>top probe <select name="probe">${probeOptions}</select></label><label>status <select name="status">${statusOptions}</select></label><button type="submit">filter</button></form>`;
}

function pager(pages: number, opts: RunPageOptions): string {
  if (opts.links === undefined || pages <= 1) return '';
  const { page: at, filter } = opts;
  const link = (p: number, text: string) => (p === at ? `<span>${text}</span>` : `<a href="${esc(opts.links!.pageHref(filter, p))}">${text}</a>`);
  const shown = [...new Set([1, at - 2, at - 1, at, at + 1, at + 2, pages])].filter((p) => p >= 1 && p <= pages).sort((a, b) => a - b);
  return `<p class="pager">${at > 1 ? link(at - 1, '‹ previous') : ''}${shown.map((p) => link(p, String(p))).join('')}${at < pages ? link(at + 1, 'next ›') : ''} <span class="muted">page ${at} of ${pages}</span></p>`;
}

export function renderRunPage(view: RunView, opts: RunPageOptions): string {
  const { config, summary } = view;
  const matching = filterImages(view, opts.filter);
  const pages = Math.max(1, Math.ceil(matching.length / opts.pageSize));
  const at = Math.min(Math.max(1, opts.page), pages);
  const slice = matching.slice((at - 1) * opts.pageSize, at * opts.pageSize);
  const fired = summary.probes.filter((p) => p.probe !== 'none' && p.sampleRate > 0);
  const headline = fired[0]
    ? `Most often, fiber samples land nearest to <b>${esc(fired[0].probe)}</b> of the query (${percent(fired[0].sampleRate)} of samples, ${percent(fired[0].imageRate)} of images): the model treats that transform as the same image.`
    : 'No probe transform was nearer to the samples than the query itself.';
  const errorLimit = opts.errorLimit ?? 50;
  const imageErrors = view.ordered.filter((r) => r.status === 'error');
  const unreadable = new Set(imageErrors.map((r) => r.image_id));
  const errorRows = [
    ...imageErrors.map((r) => `<tr><td class="l">${esc(r.image_id)}</td><td class="l">image</td><td class="l">${esc(r.error)}</td></tr>`),
    ...view.errorSamples.filter((r) => !unreadable.has(r.image_id)).map((r) => `<tr><td class="l">${esc(r.image_id)}</td><td class="l">sample #${r.sample_index}</td><td class="l">${esc(r.error)}</td></tr>`),
  ];
  const shownNote =
    opts.links === undefined && matching.length > slice.length
      ? `, the first ${slice.length} of ${matching.length}; every image is in summary.arrow`
      : matching.length !== view.ordered.length
        ? `, ${matching.length} of ${view.ordered.length} images match`
        : '';
  const body = `<h1>fiberscope run <code>${esc(config.runId)}</code></h1>
${opts.links?.statusHtml ?? ''}
<p>Prior <b>${esc(config.prior.id)}</b> · extractor <b>${esc(config.extractor.id)}</b> · variant ${esc(config.sampler.variant)} · ${config.samplesPerImage} samples per image · ${config.sampler.steps} steps × ${config.sampler.innerSteps} inner · seed ${esc(config.sampler.seed)} · created ${esc(config.createdAt)}${config.schedule ? ` · schedule <b>${esc(config.schedule.id)}</b> (${esc(config.schedule.actionTime)})` : ''}</p>
<p class="headline">${headline}</p>
<h2>Counts</h2>
<table class="counts"><tr><th></th><th>total</th><th>ok</th><th>error</th></tr>
<tr><th>images</th><td>${summary.images.total}</td><td>${summary.images.ok}</td><td>${summary.images.error}</td></tr>
<tr><th>samples</th><td>${summary.samples.total}</td><td>${summary.samples.ok}</td><td>${summary.samples.error}</td></tr></table>
${opts.gate ? gateSection(opts.gate, opts.imageHref) : ''}
${opts.cross.length > 0 ? crossSection(opts.cross) : ''}
<h2>Invariance profile</h2>
<p>For each sample, the transform of its query it is nearest to in pixels (<i>none</i>: the query itself).</p>
<table class="profile"><tr><th>probe</th><th>samples nearest</th><th>images with ≥ 1 such sample</th></tr>
${summary.probes.map((p) => `<tr><th>${esc(p.probe)}</th><td class="l">${bar(p.sampleRate)}</td><td class="l">${bar(p.imageRate)}</td></tr>`).join('\n')}
</table>
<h2>Metric distributions</h2>
<div class="charts">${histogramSvg(view.fiberMetric, `fiber metric (${summary.fiberMetricName}) per sample`)}${histogramSvg(view.ratio, 'fiber metric / nearest-real-neighbour baseline, per image', { at: 1, label: '1' })}</div>
<table><tr><th>metric</th><th>n</th><th>min</th><th>p25</th><th>median</th><th>p75</th><th>max</th><th>mean</th></tr>
${quantileRow(`fiber metric (${summary.fiberMetricName})`, summary.fiberMetric)}
${quantileRow('optimised cost', summary.cost)}
${quantileRow('pixel distance to query (RMS)', summary.pixelDistance)}
${quantileRow('diversity of the K samples', summary.diversity)}
${quantileRow('nearest real neighbour (squared L2)', summary.nnBaseline)}
</table>
<p>Median ratio of fiber metric to the nearest-real-neighbour baseline: <b>${num(summary.fiberToNeighbourRatio)}</b> (below 1: the samples are closer to the query in the model's eyes than any other real image).</p>
${errorRows.length > 0 ? `<h2>Errors</h2><table class="errors"><tr><th>image</th><th>row</th><th>message</th></tr>${errorRows.slice(0, errorLimit).join('')}</table>${errorRows.length > errorLimit ? `<p class="muted">${errorLimit} of ${errorRows.length} error rows shown; all are in the shard tables.</p>` : ''}` : ''}
<h2 id="fibers">Fibers <small class="muted">(largest pixel distance first${shownNote})</small></h2>
${opts.links ? filterForm(view, opts) : ''}
${pager(pages, { ...opts, page: at })}
${slice.map((img) => imagePanel(img, view.samplesByImage.get(img.image_id) ?? [], opts.imageHref)).join('\n')}
${pager(pages, { ...opts, page: at })}
<h2>Configuration</h2>
<table class="config"><tr><th>dataset</th><td class="l">${esc(config.dataset)}</td></tr><tr><th>preset</th><td class="l">${esc(config.preset ?? '–')}</td></tr>
<tr><th>probes</th><td class="l">${esc(config.probes.join(', '))}</td></tr><tr><th>reference set</th><td class="l">${esc(config.reference ?? 'the run\'s own images')}</td></tr>
<tr><th>shards</th><td class="l">${config.shards.length} (${config.batchImages} images per batch)</td></tr><tr><th>provider</th><td class="l">${esc(config.provider)}</td></tr>
<tr><th>code version</th><td class="l">${esc(config.codeVersion)}</td></tr></table>
${fingerprints('Prior', config.prior)}${fingerprints('Extractor', config.extractor)}`;
  return page(`fiberscope run ${config.runId}`, body, opts.links ? { nav: opts.links.nav } : {});
}

/** Images the static report shows with their fibers; the rest are in summary.arrow. */
export const REPORT_IMAGES = 200;

export interface ReportInput {
  config: RunConfig;
  summary: RunSummary;
  images: ImageRow[];
  samples: SampleRow[];
  gate?: GateVerdict | null;
  cross?: CrossSummary[];
}

/**
 * report.html: the run page as one file in the run folder, its images linked relative to it, so
 * the folder opens anywhere (file://, an archive, a bucket's web view) with nothing else.
 */
export function renderReport({ config, summary, images, samples, gate = null, cross = [] }: ReportInput): string {
  const base = runLayout(config.runId).base + '/';
  const imageHref = (key: string) => (key.startsWith(base) ? key.slice(base.length) : `../../${key}`);
  return renderRunPage(runView(config, summary, images, samples), { imageHref, filter: {}, page: 1, pageSize: REPORT_IMAGES, gate, cross });
}
