import { readFileSync } from 'node:fs';
import { formatDuration } from './duration';
import { bytes, int, ms, pct } from './format';
import { machineLine } from './render-md';
import type { Report } from './report';

/**
 * report.html: one self-contained page (uPlot and the data inlined, nothing fetched at view time) with
 * latency percentiles, throughput and outcomes over time, stage boundaries marked, per-stage bars and
 * process memory/CPU. Open it from disk in any browser.
 */
let uplotAssets: { js: string; css: string } | undefined;

function assets(): { js: string; css: string } {
  uplotAssets ??= {
    js: readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8'),
    css: readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8'),
  };
  return uplotAssets;
}

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** JSON that is safe inside a <script> element. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

export function renderHtml(r: Report): string {
  const { js, css } = assets();
  const o = r.overall;
  const verdict = r.run.aborted ? 'aborted' : r.passed ? 'passed' : 'failed';
  const data = {
    stages: r.stages.map((s) => ({ name: s.name, startS: s.startS, endS: s.endS })),
    timeline: r.timeline.points.map((p) => [
      p.t,
      p.users,
      p.rps,
      p.latencyMs.p50,
      p.latencyMs.p95,
      p.latencyMs.p99,
      p.success,
      p.rateLimited,
      p.shed,
      p.errors,
    ]),
    intervalS: r.timeline.intervalS,
    processes: r.processes.map((p) => ({
      name: p.name,
      samples: p.samples.map((s) => [s.t, s.rssMb, s.cpuPct]),
    })),
  };
  const cards: [string, string, boolean?][] = [
    ['requests', int(o.requests)],
    ['success', pct(o.successRate), o.successRate < 1],
    ['rate limited (429)', int(o.rateLimited), o.rateLimited > 0],
    ['shed (503)', int(o.shed), o.shed > 0],
    ['p95', ms(o.latencyMs.p95)],
    ['throughput', `${o.rps.toFixed(1)} req/s`],
    ['max users', int(o.maxUsers)],
    ['tasks lost', r.tasks.method === 'none' ? 'n/a' : int(r.tasks.lost), r.tasks.lost > 0],
    ['duplicates', r.tasks.method === 'none' ? 'n/a' : int(r.tasks.duplicates), r.tasks.duplicates > 0],
    ['completion p95', r.tasks.completionMs.count ? ms(r.tasks.completionMs.p95) : 'n/a'],
  ];
  const maxP99 = Math.max(1, ...r.stages.map((s) => s.latencyMs.p99));
  const maxRps = Math.max(1, ...r.stages.map((s) => s.rps));
  const bar = (v: number, max: number, cls: string): string =>
    `<span class="bar ${cls}" style="width:${((v / max) * 100).toFixed(1)}%"></span>`;
  const stageRows = r.stages
    .map(
      (s) => `<tr><td>${esc(s.name)}</td><td class="n">${s.requests ? pct(s.successRate) : '-'}</td>
<td class="bars">${bar(s.latencyMs.p50, maxP99, 'p50')}${bar(s.latencyMs.p95, maxP99, 'p95')}${bar(s.latencyMs.p99, maxP99, 'p99')}</td>
<td class="n">${ms(s.latencyMs.p50)} / ${ms(s.latencyMs.p95)} / ${ms(s.latencyMs.p99)}</td>
<td class="bars">${bar(s.rps, maxRps, 'rps')}</td><td class="n">${s.rps.toFixed(1)}</td></tr>`,
    )
    .join('\n');
  const thresholdRows = r.thresholds
    .map(
      (t) =>
        `<tr class="${t.ok === false ? 'bad' : ''}"><td>${esc(t.label)}</td><td class="n">${t.actual === null ? '-' : +t.actual.toFixed(3)}</td><td>${t.ok === null ? 'not measured' : t.ok ? 'pass' : 'FAIL'}</td></tr>`,
    )
    .join('\n');
  const requestRows = Object.entries(r.requests)
    .filter(([, b]) => b.requests > 0)
    .map(
      ([name, b]) =>
        `<tr><td>${esc(name)}</td><td class="n">${int(b.requests)}</td><td class="n">${pct(b.successRate)}</td><td class="n">${int(b.rateLimited)}</td><td class="n">${int(b.shed)}</td><td class="n">${int(b.errors)}</td><td class="n">${ms(b.latencyMs.p50)}</td><td class="n">${ms(b.latencyMs.p95)}</td><td class="n">${ms(b.latencyMs.p99)}</td><td class="n">${b.rps.toFixed(1)}</td></tr>`,
    )
    .join('\n');
  const processRows = r.processes
    .map(
      (p) =>
        `<tr><td>${esc(p.name)}</td><td class="n">${p.peakRssMb.toFixed(1)} MB</td><td class="n">${p.avgCpuPct.toFixed(1)}%</td><td class="n">${p.peakCpuPct.toFixed(1)}%</td></tr>`,
    )
    .join('\n');
  const t = r.tasks;

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Load test ${esc(r.scenario.name)}: ${verdict}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>${css}
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1180px;color:#1d2330;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px;border-bottom:1px solid #e3e6ec;padding-bottom:4px}
.verdict{display:inline-block;padding:2px 10px;border-radius:12px;font-size:13px;color:#fff;vertical-align:middle;margin-left:8px}
.passed{background:#1f9d55}.failed{background:#d64545}.aborted{background:#b7791f}
.meta{color:#5b6375;font-size:12.5px}.meta code{font-size:12px;background:#f3f4f7;padding:1px 4px;border-radius:3px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:10px;margin:16px 0}
.card{border:1px solid #e3e6ec;border-radius:8px;padding:10px 12px}.card .v{font-size:20px;font-weight:600}.card .k{color:#5b6375;font-size:12px}
.card.warn{border-color:#d64545;background:#fdf2f2}
.charts{display:grid;grid-template-columns:1fr 1fr;gap:18px}.chart h3{font-size:13px;margin:0 0 4px;color:#38404f}
table{border-collapse:collapse;width:100%;font-size:13px}td,th{padding:4px 8px;border-bottom:1px solid #eef0f4;text-align:left}td.n{text-align:right;white-space:nowrap}
th{color:#5b6375;font-weight:500;text-align:right}th:first-child{text-align:left}tr.bad td{background:#fdf2f2}
td.bars{width:30%}.bar{display:block;height:6px;margin:2px 0;border-radius:3px}.bar.p50{background:#7aa6f0}.bar.p95{background:#2f6fdb}.bar.p99{background:#173f86}.bar.rps{background:#1f9d55;height:12px}
.legend-note{color:#5b6375;font-size:12px}
@media (max-width:900px){.charts{grid-template-columns:1fr}}
</style></head><body>
<h1>Load test <code>${esc(r.scenario.name)}</code><span class="verdict ${verdict}">${verdict}</span></h1>
<div class="meta">${esc(r.scenario.description)}</div>
<div class="meta">${esc(r.run.target)} · ${esc(r.run.startedAt)} · ${formatDuration(r.run.durationS * 1000)} · ${esc(machineLine(r))}</div>
<div class="meta">command <code>${esc(r.run.command)}</code>${r.run.code.commit ? ` · commit <code>${esc(r.run.code.commit.slice(0, 12))}</code>${r.run.code.dirty ? ' (uncommitted changes)' : ''}` : ''}</div>
<div class="cards">${cards.map(([k, v, warn]) => `<div class="card${warn ? ' warn' : ''}"><div class="v">${esc(v)}</div><div class="k">${esc(k)}</div></div>`).join('')}</div>
<h2>Over time</h2>
<p class="legend-note">Each point is a ${r.timeline.intervalS}s interval; dashed lines mark stage starts. Long-polls are left out of the latency lines.</p>
<div class="charts">
<div class="chart"><h3>Latency percentiles (ms)</h3><div id="c-latency"></div></div>
<div class="chart"><h3>Throughput (req/s) and users</h3><div id="c-rps"></div></div>
<div class="chart"><h3>Outcomes per interval</h3><div id="c-outcomes"></div></div>
${r.processes.length ? '<div class="chart"><h3>Process memory (RSS, MB)</h3><div id="c-rss"></div></div><div class="chart"><h3>Process CPU (% of one core)</h3><div id="c-cpu"></div></div>' : ''}
</div>
<h2>Per stage</h2>
<table><tr><th>stage</th><th>success</th><th>latency p50 / p95 / p99</th><th></th><th>throughput</th><th>req/s</th></tr>
${stageRows}</table>
<h2>Requests</h2>
<table><tr><th>request</th><th>requests</th><th>success</th><th>429</th><th>503</th><th>errors</th><th>p50</th><th>p95</th><th>p99</th><th>req/s</th></tr>
${requestRows}</table>
<h2>End to end</h2>
${
  t.method === 'none'
    ? `<p>Not checked: ${esc(t.note ?? 'tasks were not followed')}.</p>`
    : `<table><tr><th>accepted</th><th>succeeded</th><th>failed</th><th>lost</th><th>duplicates</th><th>completion p50</th><th>completion p95</th><th>checked via</th></tr>
<tr><td class="n">${int(t.accepted)}</td><td class="n">${int(t.succeeded)}</td><td class="n">${int(t.failed)}</td><td class="n">${int(t.lost)}</td><td class="n">${int(t.duplicates)}</td><td class="n">${ms(t.completionMs.p50)}</td><td class="n">${ms(t.completionMs.p95)}</td><td>${t.method}</td></tr></table>`
}
${r.processes.length ? `<h2>Processes</h2><table><tr><th>process</th><th>peak RSS</th><th>avg CPU</th><th>peak CPU</th></tr>${processRows}</table>` : ''}
${r.thresholds.length ? `<h2>Thresholds</h2><table><tr><th>threshold</th><th>actual</th><th>result</th></tr>${thresholdRows}</table>` : ''}
<p class="meta">Data sent ${bytes(o.sentBytes)}, received ${bytes(o.receivedBytes)}.</p>
${r.run.notes.length ? `<h2>Notes</h2><ul class="meta">${r.run.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>` : ''}
<script>${js}</script>
<script>
const D = ${scriptJson(data)};
const W = () => Math.max(320, document.querySelector('.chart').clientWidth);
const cols = (i) => D.timeline.map((p) => p[i]);
const stageLines = {
  hooks: { draw: [(u) => {
    const ctx = u.ctx; ctx.save(); ctx.setLineDash([4, 4]); ctx.strokeStyle = '#9aa3b5'; ctx.fillStyle = '#5b6375';
    ctx.font = (11 * devicePixelRatio) + 'px system-ui';
    D.stages.forEach((s, i) => {
      const x = u.valToPos(s.startS, 'x', true);
      if (i > 0 && x >= u.bbox.left && x <= u.bbox.left + u.bbox.width) {
        ctx.beginPath(); ctx.moveTo(x, u.bbox.top); ctx.lineTo(x, u.bbox.top + u.bbox.height); ctx.stroke();
      }
      ctx.fillText(String(i + 1), Math.max(x, u.bbox.left) + 4, u.bbox.top + 12 * devicePixelRatio);
    });
    ctx.restore();
  }] },
};
const zero = (u, min, max) => [0, Math.max(1, max * 1.05)];
function chart(id, series, data, axes) {
  const el = document.getElementById(id); if (!el) return;
  new uPlot({ width: W(), height: 240, plugins: [stageLines], series: [{ label: 't (s)' }, ...series],
    axes: axes || [{}, {}], scales: { x: { time: false }, y: { range: zero }, users: { range: zero } }, legend: { live: true } }, data, el);
}
if (D.timeline.length) {
  const t = cols(0);
  chart('c-latency', [
    { label: 'p50', stroke: '#7aa6f0', width: 1.5 }, { label: 'p95', stroke: '#2f6fdb', width: 2 }, { label: 'p99', stroke: '#173f86', width: 1.5 },
  ], [t, cols(3), cols(4), cols(5)]);
  chart('c-rps', [
    { label: 'req/s', stroke: '#1f9d55', width: 2, fill: 'rgba(31,157,85,0.08)' }, { label: 'users', stroke: '#b7791f', width: 1.5, scale: 'users' },
  ], [t, cols(2), cols(1)], [{}, {}, { scale: 'users', side: 1, grid: { show: false } }]);
  chart('c-outcomes', [
    { label: 'success', stroke: '#1f9d55', width: 1.5 }, { label: '429', stroke: '#b7791f', width: 1.5 }, { label: '503', stroke: '#805ad5', width: 1.5 }, { label: 'errors', stroke: '#d64545', width: 1.5 },
  ], [t, cols(6), cols(7), cols(8), cols(9)]);
}
const palette = ['#2f6fdb', '#1f9d55', '#b7791f', '#805ad5', '#d64545', '#319795'];
function processChart(id, k) {
  if (!D.processes.length) return;
  const times = [...new Set(D.processes.flatMap((p) => p.samples.map((s) => s[0])))].sort((a, b) => a - b);
  const series = D.processes.map((p, i) => ({ label: p.name, stroke: palette[i % palette.length], width: 1.5 }));
  const data = [times, ...D.processes.map((p) => { const m = new Map(p.samples.map((s) => [s[0], s[k]])); return times.map((x) => m.has(x) ? m.get(x) : null); })];
  chart(id, series, data);
}
processChart('c-rss', 1);
processChart('c-cpu', 2);
</script>
</body></html>
`;
}
