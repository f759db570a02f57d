import { esc, num } from './html.ts';

/**
 * Charts as inline SVG, drawn once on the server: the run page and the static report need no
 * script and no network to show them.
 */

export interface Histogram {
  /** Bin edges, `counts.length + 1` of them. */
  edges: number[];
  counts: number[];
  /** Values outside the finite range (null, NaN) left out. */
  total: number;
}

/** Equal-width bins over the finite values; one bin when they are all equal. */
export function histogram(values: Iterable<number | null>, bins = 24): Histogram {
  const xs: number[] = [];
  for (const v of values) if (v !== null && Number.isFinite(v)) xs.push(v);
  if (xs.length === 0) return { edges: [], counts: [], total: 0 };
  let lo = Infinity;
  let hi = -Infinity;
  for (const x of xs) {
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  const n = hi > lo ? bins : 1;
  const width = hi > lo ? (hi - lo) / n : 1;
  const counts = new Array<number>(n).fill(0);
  for (const x of xs) counts[Math.min(n - 1, Math.floor((x - lo) / width))]! += 1;
  return { edges: Array.from({ length: n + 1 }, (_, i) => lo + i * width), counts, total: xs.length };
}

const W = 420;
const H = 160;
const PAD = { left: 40, right: 10, top: 10, bottom: 32 };

/** A histogram with its axis ends labelled; `marker` draws a vertical line (the ratio's 1). */
export function histogramSvg(h: Histogram, label: string, marker?: { at: number; label: string }): string {
  if (h.total === 0) return `<p class="muted">${esc(label)}: no values</p>`;
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const max = Math.max(...h.counts);
  const lo = h.edges[0]!;
  const hi = h.edges.at(-1)!;
  const x = (v: number) => PAD.left + (hi > lo ? ((v - lo) / (hi - lo)) * plotW : plotW / 2);
  const bw = plotW / h.counts.length;
  const bars = h.counts
    .map((c, i) => {
      const bh = (c / max) * plotH;
      return `<rect x="${(PAD.left + i * bw + 1).toFixed(1)}" y="${(PAD.top + plotH - bh).toFixed(1)}" width="${Math.max(1, bw - 2).toFixed(1)}" height="${bh.toFixed(1)}"><title>${num(h.edges[i]!)} – ${num(h.edges[i + 1]!)}: ${c}</title></rect>`;
    })
    .join('');
  const mark =
    marker && marker.at >= lo && marker.at <= hi
      ? `<line class="marker" x1="${x(marker.at).toFixed(1)}" x2="${x(marker.at).toFixed(1)}" y1="${PAD.top}" y2="${PAD.top + plotH}"/><text class="marker" x="${(x(marker.at) + 3).toFixed(1)}" y="${PAD.top + 10}">${esc(marker.label)}</text>`
      : '';
  return `<figure class="chart"><svg role="img" aria-label="${esc(label)}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}">
<g class="bars">${bars}</g>${mark}
<line class="axis" x1="${PAD.left}" x2="${W - PAD.right}" y1="${PAD.top + plotH}" y2="${PAD.top + plotH}"/>
<text x="${PAD.left}" y="${H - 14}">${num(lo)}</text><text x="${W - PAD.right}" y="${H - 14}" text-anchor="end">${num(hi)}</text>
<text x="${PAD.left - 4}" y="${PAD.top + 8}" text-anchor="end">${max}</text><text x="${PAD.left - 4}" y="${PAD.top + plotH}" text-anchor="end">0</text>
</svg><figcaption>${esc(label)} (${h.total} values)</figcaption></figure>`;
}

export interface Series {
  name: string;
  /** One value per x position; null leaves a gap. */
  values: (number | null)[];
}

const PALETTE = ['#3b6fd4', '#d43b3b', '#2e9e5b', '#b07d12', '#8a4fc2', '#1c9aa8', '#c2508a', '#5c6b7a', '#7a8f1f', '#e0702a'];

/** Lines over a sequence of runs (x: the run's position, labelled below), with a legend. */
export function lineChartSvg(xLabels: string[], series: Series[], label: string, yFormat: (v: number) => string = num): string {
  const all = series.flatMap((s) => s.values.filter((v): v is number => v !== null && Number.isFinite(v)));
  if (xLabels.length === 0 || all.length === 0) return `<p class="muted">${esc(label)}: no values yet</p>`;
  const width = 640;
  const height = 220;
  const pad = { left: 48, right: 12, top: 12, bottom: 40 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const lo = Math.min(0, ...all);
  const hi = Math.max(...all) > lo ? Math.max(...all) : lo + 1;
  const x = (i: number) => pad.left + (xLabels.length === 1 ? plotW / 2 : (i / (xLabels.length - 1)) * plotW);
  const y = (v: number) => pad.top + plotH - ((v - lo) / (hi - lo)) * plotH;
  const lines = series
    .map((s, si) => {
      const colour = PALETTE[si % PALETTE.length]!;
      const points = s.values.map((v, i) => (v === null || !Number.isFinite(v) ? null : [x(i), y(v)] as const));
      const path = points
        .map((p, i) => (p === null ? '' : `${i === 0 || points[i - 1] === null ? 'M' : 'L'}${p[0].toFixed(1)},${p[1].toFixed(1)}`))
        .join('');
      const dots = points
        .map((p, i) => (p === null ? '' : `<circle cx="${p[0].toFixed(1)}" cy="${p[1].toFixed(1)}" r="3" fill="${colour}"><title>${esc(s.name)} ${esc(xLabels[i]!)}: ${yFormat(s.values[i]!)}</title></circle>`))
        .join('');
      return `<g class="series" data-series="${esc(s.name)}"><path d="${path}" fill="none" stroke="${colour}" stroke-width="2"/>${dots}</g>`;
    })
    .join('');
  const ticks = xLabels.length <= 8 ? xLabels.map((_, i) => i) : [0, Math.floor((xLabels.length - 1) / 2), xLabels.length - 1];
  // The end labels align inward so they are not cut at the chart's edges.
  const anchor = (i: number) => (xLabels.length === 1 ? 'middle' : i === 0 ? 'start' : i === xLabels.length - 1 ? 'end' : 'middle');
  const xText = ticks.map((i) => `<text x="${x(i).toFixed(1)}" y="${height - 22}" text-anchor="${anchor(i)}">${esc(xLabels[i]!)}</text>`).join('');
  const legend = series
    .map((s, si) => `<span class="legend"><span class="swatch" style="background:${PALETTE[si % PALETTE.length]}"></span>${esc(s.name)}</span>`)
    .join(' ');
  return `<figure class="chart"><svg role="img" aria-label="${esc(label)}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}">
<line class="axis" x1="${pad.left}" x2="${width - pad.right}" y1="${pad.top + plotH}" y2="${pad.top + plotH}"/>
<line class="axis" x1="${pad.left}" x2="${pad.left}" y1="${pad.top}" y2="${pad.top + plotH}"/>
<text x="${pad.left - 4}" y="${pad.top + 8}" text-anchor="end">${yFormat(hi)}</text><text x="${pad.left - 4}" y="${pad.top + plotH}" text-anchor="end">${yFormat(lo)}</text>
${lines}${xText}</svg><figcaption>${esc(label)}<br>${legend}</figcaption></figure>`;
}
