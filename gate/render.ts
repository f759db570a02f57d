import type { Finding, GateVerdict, RunRef, WorstImage } from './verdict.ts';

/** The formats of `fiberscope check`. */
export const GATE_FORMATS = ['text', 'markdown', 'json', 'junit'] as const;
export type GateFormat = (typeof GATE_FORMATS)[number];

const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
const figure = (f: Finding, x: number) => (f.kind === 'metric' ? x.toPrecision(3) : pct(x));
const p2 = (p: number) => p.toPrecision(2);
const link = (run: RunRef, key: string) => `${run.store.replace(/\/$/, '')}/${key}`;

function profile(p: Record<string, number>): string {
  const top = Object.entries(p).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return top.map(([probe, share]) => `${probe} ${pct(share)}`).join(', ') || 'no ok samples';
}

function headline(v: GateVerdict): string {
  const failed = v.findings.filter((f) => f.regression);
  return v.verdict === 'pass'
    ? `PASS: ${v.candidate.extractor} (${v.candidate.runId}) keeps the invariances of ${v.baseline.extractor} (${v.baseline.runId}) on ${v.images} shared images`
    : `REGRESSION: ${failed.map((f) => f.name).join(', ')} changed between ${v.baseline.extractor} (${v.baseline.runId}) and ${v.candidate.extractor} (${v.candidate.runId}) on ${v.images} shared images`;
}

export function renderText(v: GateVerdict): string {
  const lines = [headline(v), `  α ${v.alpha} (Holm over ${v.findings.length} tests), minimum effect ${v.minEffect} (shares), ${v.minRatioChange} (ratio)`];
  for (const f of v.findings) lines.push(`  ${f.regression ? 'FAIL' : 'ok  '} ${f.message}`);
  if (v.worstImages.length > 0) {
    lines.push('  images that changed most (nearest-probe profile, baseline → candidate):');
    for (const w of v.worstImages) {
      lines.push(`    ${w.imageId}  change ${w.change.toFixed(2)}: ${profile(w.baselineProfile)} → ${profile(w.candidateProfile)}`);
      if (w.candidateImages[0] !== undefined) lines.push(`      ${link(v.candidate, w.candidateImages[0])}`);
    }
  }
  return lines.join('\n');
}

const cell = (s: string) => s.replace(/\|/g, '\\|');

function imageLinks(run: RunRef, keys: readonly string[]): string {
  return keys.map((k, i) => `[${i}](${link(run, k)})`).join(' ') || '–';
}

/** A pull-request comment: the verdict, one table row per test, the worst images with links to their samples. */
export function renderMarkdown(v: GateVerdict): string {
  const out = [
    `### fiberscope check: ${v.verdict === 'pass' ? '✅ pass' : '❌ regression'}`,
    '',
    headline(v) + '.',
    '',
    `Baseline \`${v.baseline.runId}\` (${v.baseline.extractor}, seed ${v.baseline.seed}) · candidate \`${v.candidate.runId}\` (${v.candidate.extractor}, seed ${v.candidate.seed}) · α ${v.alpha}, Holm over ${v.findings.length} tests · minimum effect ${v.minEffect} (shares), ${v.minRatioChange} (ratio)`,
    '',
    '| | test | baseline | candidate | effect | p | adjusted p | change |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |',
    ...v.findings.map(
      (f) =>
        `| ${f.regression ? '❌' : '✅'} | ${f.kind} \`${cell(f.name)}\` | ${figure(f, f.baseline)} | ${figure(f, f.candidate)} | ${f.effect >= 0 ? '+' : ''}${f.kind === 'metric' ? pct(f.effect) : (100 * f.effect).toFixed(0) + ' pts'} | ${p2(f.pValue)} | ${p2(f.adjustedP)} | ${f.direction} |`,
    ),
  ];
  if (v.worstImages.length > 0) {
    out.push('', '<details><summary>Images that changed most</summary>', '', '| image | change | baseline profile | candidate profile | baseline samples | candidate samples |', '| --- | ---: | --- | --- | --- | --- |');
    for (const w of v.worstImages) {
      out.push(`| \`${cell(w.imageId)}\` | ${w.change.toFixed(2)} | ${profile(w.baselineProfile)} | ${profile(w.candidateProfile)} | ${imageLinks(v.baseline, w.baselineImages)} | ${imageLinks(v.candidate, w.candidateImages)} |`);
    }
    out.push('', '</details>');
  }
  return out.join('\n');
}

const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');

function worstText(w: WorstImage, v: GateVerdict): string {
  return `${w.imageId} change ${w.change.toFixed(2)}: ${profile(w.baselineProfile)} -> ${profile(w.candidateProfile)} ${w.candidateImages.map((k) => link(v.candidate, k)).join(' ')}`;
}

/** JUnit XML: one test case per probe and per metric, a <failure> for each regression. */
export function renderJunit(v: GateVerdict): string {
  const failures = v.findings.filter((f) => f.regression).length;
  const suite = `fiberscope check ${v.candidate.runId} vs ${v.baseline.runId}`;
  const cases = v.findings.map((f) => {
    const open = `    <testcase classname="fiberscope.check.${f.kind}" name="${xml(f.name)}" time="0">`;
    const props = `      <system-out>${xml(f.message)}</system-out>`;
    if (!f.regression) return [open, props, '    </testcase>'].join('\n');
    const failure = `      <failure message="${xml(f.message)}" type="${f.kind === 'probe' ? `invariance-${f.direction}` : `${f.kind}-${f.direction}`}">${xml(
      [f.message, ...v.worstImages.map((w) => worstText(w, v))].join('\n'),
    )}</failure>`;
    return [open, failure, props, '    </testcase>'].join('\n');
  });
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="fiberscope check" tests="${v.findings.length}" failures="${failures}" errors="0">`,
    `  <testsuite name="${xml(suite)}" tests="${v.findings.length}" failures="${failures}" errors="0" skipped="0" timestamp="${v.createdAt.replace(/\.\d+Z$/, '')}">`,
    '    <properties>',
    `      <property name="baseline" value="${xml(v.baseline.location)}"/>`,
    `      <property name="candidate" value="${xml(v.candidate.location)}"/>`,
    `      <property name="images" value="${v.images}"/>`,
    `      <property name="alpha" value="${v.alpha}"/>`,
    '    </properties>',
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}

export function renderVerdict(v: GateVerdict, format: GateFormat): string {
  switch (format) {
    case 'text':
      return renderText(v) + '\n';
    case 'markdown':
      return renderMarkdown(v) + '\n';
    case 'json':
      return JSON.stringify(v, null, 2) + '\n';
    case 'junit':
      return renderJunit(v);
  }
}
