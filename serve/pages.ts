import type { RunDetails, RunEntry, RunState } from '../runs/catalogue.ts';
import { lineChartSvg } from '../report/charts.ts';
import { esc, num, page, percent } from '../report/html.ts';
import type { LiveProgress } from './progress.ts';

/** The dashboard's own pages (the run page is report/run-page.ts, shared with report.html). */

export interface ListedRun extends RunEntry {
  progress: LiveProgress | null;
}

export interface RunListFilter {
  status?: RunState;
  model?: string;
  schedule?: string;
}

export const runHref = (runId: string) => `/runs/${encodeURIComponent(runId)}/`;
export const scheduleHref = (id: string) => `/schedules/${encodeURIComponent(id)}/`;

const duration = (seconds: number | null) =>
  seconds === null ? '–' : seconds < 90 ? `${Math.round(seconds)} s` : seconds < 5400 ? `${Math.round(seconds / 60)} min` : `${(seconds / 3600).toFixed(1)} h`;

/** The progress cell's text; the page's script writes the same from /api/runs. */
export function progressText(run: ListedRun): string {
  const p = run.progress;
  if (run.status !== 'running') return run.samples ? `${run.samples.ok} ok / ${run.samples.error} error samples` : '–';
  if (p === null) return run.engine === 'temporal' ? 'running (no live progress: Temporal did not answer)' : 'running on the local engine (no live figures)';
  return `${p.phase}: shards ${p.shardsDone}/${p.shardsTotal}, images ${p.imagesDone}/${p.imagesTotal}, ${p.imagesPerSecond === null ? '–' : p.imagesPerSecond.toFixed(2)} images/s, ${p.errorRows} error rows, ETA ${duration(p.etaSeconds)}`;
}

export const stateBadge = (state: RunState) => `<span class="state state-${state}">${state}</span>`;

/**
 * Polls /api/runs and rewrites the status and progress cells of the rows on the page (as text,
 * never as markup); a run that is not on the page yet asks for a reload.
 */
const LIVE_SCRIPT = `
(function(){
  var duration=function(s){return s===null?'\\u2013':s<90?Math.round(s)+' s':s<5400?Math.round(s/60)+' min':(s/3600).toFixed(1)+' h';};
  var text=function(r){var p=r.progress;
    if(r.status!=='running')return r.samples?r.samples.ok+' ok / '+r.samples.error+' error samples':'\\u2013';
    if(!p)return r.engine==='temporal'?'running (no live progress: Temporal did not answer)':'running on the local engine (no live figures)';
    return p.phase+': shards '+p.shardsDone+'/'+p.shardsTotal+', images '+p.imagesDone+'/'+p.imagesTotal+', '+(p.imagesPerSecond===null?'\\u2013':p.imagesPerSecond.toFixed(2))+' images/s, '+p.errorRows+' error rows, ETA '+duration(p.etaSeconds);};
  var tick=function(){
    fetch('/api/runs'+location.search,{headers:{accept:'application/json'}}).then(function(r){return r.json();}).then(function(body){
      var fresh=0;
      body.runs.forEach(function(r){
        var row=document.querySelector('tr[data-run="'+CSS.escape(r.runId)+'"]');
        if(!row){fresh++;return;}
        row.querySelector('.progress').textContent=text(r);
        var s=row.querySelector('.state');s.textContent=r.status;s.className='state state-'+r.status;
      });
      var note=document.getElementById('fresh');note.textContent=fresh?fresh+' new run(s): reload to list them':'';
      document.getElementById('updated').textContent='updated '+new Date().toLocaleTimeString();
    }).catch(function(){document.getElementById('updated').textContent='the dashboard did not answer';});
  };
  setInterval(tick,2000);
})();`;

export function renderRunList(runs: readonly ListedRun[], all: readonly RunEntry[], filter: RunListFilter, store: string, nonce: string): string {
  const options = (values: string[], selected: string | undefined) =>
    ['', ...values].map((v) => `<option value="${esc(v)}"${(selected ?? '') === v ? ' selected' : ''}>${v === '' ? 'any' : esc(v)}</option>`).join('');
  const models = [...new Set(all.map((r) => r.extractor.id))].sort();
  const schedules = [...new Set(all.flatMap((r) => (r.schedule ? [r.schedule.id] : [])))].sort();
  const rows = runs
    .map(
      (r) =>
        `<tr data-run="${esc(r.runId)}"><td class="l"><a href="${esc(runHref(r.runId))}">${esc(r.runId)}</a></td><td class="l">${stateBadge(r.status)}${r.error ? `<br><small>${esc(r.error.kind)}: ${esc(r.error.message)}</small>` : ''}</td><td class="l">${esc(r.createdAt)}</td><td class="l">${esc(r.prior.id)}</td><td class="l">${esc(r.extractor.id)}</td><td>${r.images}</td><td class="l progress">${esc(progressText(r))}</td><td class="l">${esc(r.topProbe ?? '–')}</td><td class="l">${r.schedule ? `<a href="${esc(scheduleHref(r.schedule.id))}">${esc(r.schedule.id)}</a>` : '–'}</td></tr>`,
    )
    .join('\n');
  const body = `<h1>fiberscope runs</h1>
<p class="muted">${esc(store)} · ${runs.length} of ${all.length} runs · <span id="updated"></span> <b id="fresh"></b></p>
<form class="filters" method="get"><label>status <select name="status">${options(['running', 'done', 'failed', 'incomplete'], filter.status)}</select></label>
<label>model <select name="model">${options(models, filter.model)}</select></label>
<label>schedule <select name="schedule">${options(schedules, filter.schedule)}</select></label><button type="submit">filter</button></form>
${schedules.length > 0 ? `<p>Schedules: ${schedules.map((s) => `<a href="${esc(scheduleHref(s))}">${esc(s)}</a>`).join(' · ')}</p>` : ''}
<table class="runs"><tr><th>run</th><th>status</th><th>created</th><th>prior</th><th>extractor</th><th>images</th><th>samples / progress</th><th>top probe</th><th>schedule</th></tr>
${rows}</table>`;
  return page('fiberscope runs', body, { script: { nonce, source: LIVE_SCRIPT } });
}

export function filterRuns(runs: readonly ListedRun[], filter: RunListFilter): ListedRun[] {
  return runs.filter(
    (r) =>
      (filter.status === undefined || r.status === filter.status) &&
      (filter.model === undefined || r.extractor.id === filter.model || r.prior.id === filter.model) &&
      (filter.schedule === undefined || r.schedule?.id === filter.schedule),
  );
}

/** A run the page cannot show in full yet (no summary): where it stands and what it will be. */
export function renderPendingRun(run: RunDetails, progress: LiveProgress | null): string {
  const listed: ListedRun = { ...run, progress };
  const body = `<h1>fiberscope run <code>${esc(run.runId)}</code></h1>
<p>${stateBadge(run.status)} ${esc(progressText(listed))}</p>
${run.error ? `<p class="verdict-regression">${esc(run.error.kind)}: ${esc(run.error.message)}</p>` : ''}
<p>Prior <b>${esc(run.prior.id)}</b> · extractor <b>${esc(run.extractor.id)}</b> · ${run.images} images · shards ${run.shardsDone}/${run.shardsTotal} written · created ${esc(run.createdAt)}</p>
<p class="muted">The run has no summary yet: its fibers, charts and counts appear here once it is summarized.</p>`;
  return page(`fiberscope run ${run.runId}`, body, { nav: `<a href="/">runs</a>` });
}

/** The runs of one schedule, oldest first: probe firing rates and the median fiber ratio per run. */
export function renderSchedule(id: string, runs: readonly RunDetails[]): string {
  const ordered = [...runs].sort((a, b) => (a.schedule?.actionTime ?? a.createdAt).localeCompare(b.schedule?.actionTime ?? b.createdAt));
  const labels = ordered.map((r) => (r.schedule?.actionTime ?? r.createdAt).replace(/:\d\d(\.\d+)?Z$/, 'Z').replace('T', ' '));
  const probes = [...new Set(ordered.flatMap((r) => (r.summary?.probes ?? []).filter((p) => p.probe !== 'none' && p.sampleRate > 0).map((p) => p.probe)))].sort();
  const rates = probes.map((probe) => ({ name: probe, values: ordered.map((r) => (r.summary ? (r.summary.probes.find((p) => p.probe === probe)?.sampleRate ?? 0) : null)) }));
  const ratio = [{ name: 'median fiber metric / nearest-real-neighbour baseline', values: ordered.map((r) => r.summary?.fiberToNeighbourRatio ?? null) }];
  const rows = [...ordered]
    .reverse()
    .map(
      (r) =>
        `<tr><td class="l"><a href="${esc(runHref(r.runId))}">${esc(r.runId)}</a></td><td class="l">${esc(r.schedule?.actionTime ?? '–')}</td><td class="l">${stateBadge(r.status)}</td><td class="l">${esc(r.extractor.id)}</td><td>${r.images}</td><td class="l">${esc(r.topProbe ?? '–')}</td><td>${num(r.summary?.fiberToNeighbourRatio)}</td><td>${r.summary ? percent(r.summary.probes.find((p) => p.probe === r.topProbe)?.sampleRate) : '–'}</td></tr>`,
    )
    .join('');
  const body = `<h1>schedule <code>${esc(id)}</code></h1>
<p>${ordered.length} runs, oldest ${esc(labels[0] ?? '–')}, newest ${esc(labels.at(-1) ?? '–')}.</p>
<div class="charts">${lineChartSvg(labels, rates, 'probe firing rate (share of samples nearest to each probe)', percent)}${lineChartSvg(labels, ratio, 'median fiber ratio per run (below 1: fibers closer than any real image)')}</div>
<table class="schedule-runs"><tr><th>run</th><th>action time</th><th>status</th><th>extractor</th><th>images</th><th>top probe</th><th>median ratio</th><th>top probe rate</th></tr>${rows}</table>`;
  return page(`fiberscope schedule ${id}`, body, { nav: `<a href="/">runs</a>` });
}
