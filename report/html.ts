/**
 * The pieces every page shares (the static report, the dashboard's pages): escaping, number
 * formatting, one stylesheet and the page shell. Every user string goes through `esc`.
 */

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export const esc = (s: unknown): string => String(s).replace(/[&<>"']/g, (c) => ENTITIES[c]!);

export const num = (v: number | null | undefined, digits = 3): string =>
  v === null || v === undefined || !Number.isFinite(v) ? '–' : Math.abs(v) >= 1000 ? v.toFixed(0) : v.toPrecision(digits);

export const percent = (rate: number | null | undefined): string => (rate === null || rate === undefined || !Number.isFinite(rate) ? '–' : `${(100 * rate).toFixed(1)}%`);

const STYLE = `
body{font:14px system-ui,sans-serif;margin:24px;color:#222;max-width:1240px}
a{color:#2457b8}code{font-size:13px}.muted{color:#777}
nav{margin-bottom:8px;font-size:13px}
table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ddd;padding:4px 8px;text-align:right}th{text-align:left;background:#f6f6f6}
td.l{text-align:left}
.bar{display:inline-block;height:10px;background:#3b6fd4;vertical-align:middle}
.row{display:flex;flex-wrap:wrap;gap:8px}figure{margin:0;text-align:center;font-size:11px;color:#555}
figure img{width:96px;height:96px;image-rendering:pixelated;border:1px solid #ccc}
figure.query img{border:2px solid #d43b3b}.errbox{width:96px;height:96px;background:#fdd;display:flex;align-items:center;justify-content:center}
section.image{border-top:1px solid #eee;padding:8px 0}h3{margin:4px 0;font-size:14px}h3 small{font-weight:normal;color:#777}
.headline{font-size:16px;background:#f3f7ff;padding:12px;border-left:4px solid #3b6fd4}
.charts{display:flex;flex-wrap:wrap;gap:16px}figure.chart{border:1px solid #eee;padding:6px}
figure.chart svg text{font-size:10px;fill:#555}figure.chart .bars rect{fill:#3b6fd4}
.axis{stroke:#999}.marker{stroke:#d43b3b;fill:#d43b3b;stroke-dasharray:3 2}
.legend{margin-right:10px;white-space:nowrap}.swatch{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:middle}
.state{padding:1px 6px;border-radius:8px;font-size:12px}.state-running{background:#e3edff}.state-done{background:#e1f5e6}
.state-failed{background:#fde2e2}.state-incomplete{background:#f4ecd6}
.verdict-pass{background:#e1f5e6;padding:8px;border-left:4px solid #2e9e5b}.verdict-regression{background:#fde2e2;padding:8px;border-left:4px solid #d43b3b}
form.filters{margin:8px 0}form.filters label{margin-right:12px}
.pager a,.pager span{margin-right:8px}
.fingerprint{font-family:monospace;font-size:11px;word-break:break-all}
`;

/** A whole page; `head` adds to the head (the dashboard's script), `nav` is already escaped HTML. */
export function page(title: string, body: string, opts: { nav?: string; script?: { nonce: string; source: string } } = {}): string {
  const script = opts.script ? `<script nonce="${esc(opts.script.nonce)}">${opts.script.source}</script>` : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${esc(title)}</title>
<style>${STYLE}</style></head><body>
${opts.nav ? `<nav>${opts.nav}</nav>` : ''}${body}
${script}</body></html>
`;
}
