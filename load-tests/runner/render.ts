import { readFileSync } from 'node:fs';
import { formatDuration } from '../lib/scenario';
import { int, machineLine, markdown, ms, pct, type Section } from '../../tools/report';
import type { GeneratorCheck, MachineInfo, Report, StatsBlock, ThresholdResult } from './types';

/**
 * report.md and report.html from one list of sections, so both views always show the same tables. The
 * HTML adds cards and uPlot charts (library and data inlined: open it from disk, nothing is fetched).
 */
export function bytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let u = 0;
  for (; n >= 1024 && u < units.length - 1; u++) n /= 1024;
  return u ? `${n.toFixed(n < 10 ? 2 : 1)} ${units[u]}` : `${n} B`;
}
const countAndRate = (n: number, rate: number): string => `${int(n)} (${pct(rate)})`;
const round3 = (n: number): number => Math.round(n * 1000) / 1000;
const verdict = (r: Report): string => (r.run.aborted ? 'ABORTED' : r.passed ? 'PASSED' : 'FAILED');

/** The first lines of every view: failed thresholds, and a load generator that may have set the figures. */
export function headline(thresholds: readonly ThresholdResult[], generator?: GeneratorCheck): string[] {
  return [
    ...thresholds
      .filter((t) => t.ok === false && !t.info)
      .map((t) => `FAILED: ${t.label} (actual ${round3(t.actual ?? 0)})`),
    ...(generator?.bottleneck.length
      ? [`WARNING: the load generator may be the bottleneck: ${generator.bottleneck.join('; ')}.`]
      : []),
  ];
}

/** pass, FAIL or not measured; an info threshold says which machine its figure belongs to. */
export function thresholdResult(t: ThresholdResult, m: MachineInfo): string {
  if (t.ok === null) return 'not measured';
  if (t.info) return `information: ${t.ok ? 'met' : 'not met'} on ${m.cpuModel}, ${m.cores} cores`;
  return t.ok ? 'pass' : '**FAIL**';
}

export const thresholdRows = (ts: readonly ThresholdResult[], m: MachineInfo): string[][] =>
  ts.map((t) => [t.label, t.actual === null ? '-' : String(round3(t.actual)), thresholdResult(t, m)]);

const BLOCK_HEADERS = 'requests success 429 503 errors avg p50 p90 p95 p99 max req/s'.split(' ');
function blockCells(b: StatsBlock): string[] {
  // A request that never ran (an optional endpoint the target lacks) has no rates or latencies.
  if (b.requests === 0) return ['0', ...BLOCK_HEADERS.slice(1).map(() => '-')];
  const l = b.latencyMs;
  const counts = [b.rateLimited, b.shed, b.errors].map(int);
  return [
    int(b.requests),
    pct(b.successRate),
    ...counts,
    ...[l.avg, l.p50, l.p90, l.p95, l.p99, l.max].map(ms),
    b.rps.toFixed(1),
  ];
}

export function generatorRows(g: GeneratorCheck): string[][] {
  const f = g.floor;
  const bound = f?.efficiency == null ? '' : `, ${pct(f.efficiency)} of the think-time bound`;
  const lag = g.loopLagMs;
  return [
    [
      'Floor (same profile, null target)',
      f
        ? `P50 ${ms(f.latencyMs.p50)}, P95 ${ms(f.latencyMs.p95)}, P99 ${ms(f.latencyMs.p99)}, ${f.rps.toFixed(1)} req/s${bound}`
        : 'not measured (--no-floor)',
    ],
    ['Event-loop lag (this run)', `p50 ${ms(lag.p50)}, p99 ${ms(lag.p99)}, max ${ms(lag.max)}`],
    ['CPU (this run)', g.cpuAvgPct === null ? 'not measured' : `${g.cpuAvgPct}% of one core on average`],
    [
      'Verdict',
      g.bottleneck.length ? `may be the bottleneck: ${g.bottleneck.join('; ')}` : 'not the bottleneck',
    ],
  ];
}

function sections(r: Report): Section[] {
  const { overall: o, tasks: t, run } = r;
  const mode = {
    local: 'stack started by load-test:local',
    e2e: 'apps started in-process',
    run: 'running stack',
  };
  const code = run.code.commit
    ? `${run.code.commit.slice(0, 12)} (${run.code.branch ?? '?'}${run.code.dirty ? ', uncommitted changes' : ''})`
    : 'unknown';
  const bound = o.thinkBoundRps
    ? ` (${pct(o.efficiency ?? 0)} of the ${o.thinkBoundRps.toFixed(1)} req/s the think time allows)`
    : '';
  const longPolls = r.scenario.file.requests.filter((q) => q.longPoll).map((q) => q.name);
  const l = o.latencyMs;
  const out: Section[] = [
    {
      header: ['run', ''],
      align: 'll',
      rows: [
        ['Target', `${run.target} (${mode[run.mode]})`],
        ['Started', `${run.startedAt} (${formatDuration(run.durationS * 1000)} of load)`],
        ['Command', `\`${run.command}\``],
        ['Code', code],
        ['Machine', machineLine(r.machine)],
        ['API keys', run.apiKeys ? `${run.apiKeys} key(s), X-API-Key per user` : 'none (auth off)'],
        ...Object.entries(run.settings).map(([k, v]) => [k, `\`${v}\``]),
      ],
    },
    {
      title: 'Summary',
      header: ['metric', 'value'],
      rows: [
        ['Total requests', int(o.requests)],
        ['Success', countAndRate(o.success, o.successRate)],
        ['Rate limited (429)', countAndRate(o.rateLimited, o.rateLimitedRate)],
        ['Shed (503)', countAndRate(o.shed, o.shedRate)],
        ['Other errors', countAndRate(o.errors, o.requests ? o.errors / o.requests : 0)],
        ...Object.entries({ Average: l.avg, P50: l.p50, P90: l.p90, P95: l.p95, P99: l.p99, Max: l.max }).map(
          ([k, v]) => [k, ms(v)],
        ),
        ['Throughput', `${o.rps.toFixed(1)} req/s${bound}`],
        ['Max users', int(o.maxUsers)],
        ['Data sent / received', `${bytes(o.sentBytes)} / ${bytes(o.receivedBytes)}`],
      ],
      text: longPolls.some((n) => r.requests[n]?.requests)
        ? [
            'Long-poll requests count as requests but are left out of the latency figures above (see Requests).',
          ]
        : [],
    },
  ];
  if (r.generator) out.push({ title: 'Load generator', header: ['', ''], rows: generatorRows(r.generator) });
  out.push(
    {
      title: 'Stages',
      header: ['stage', 'users', 'time', ...BLOCK_HEADERS, 'sent', 'received'],
      rows: r.stages.map((s) => [
        s.name,
        s.from === s.target || s.ramp === 'step' ? `${s.target}` : `${s.from}→${s.target}`,
        formatDuration(s.seconds * 1000),
        ...blockCells(s),
        bytes(s.sentBytes),
        bytes(s.receivedBytes),
      ]),
    },
    {
      title: 'Requests',
      header: ['request', ...BLOCK_HEADERS],
      rows: Object.entries(r.requests).map(([n, b]) => [
        n + (longPolls.includes(n) ? ' (long-poll)' : ''),
        ...blockCells(b),
      ]),
    },
  );
  const errors = Object.entries(o.errorsByKind).sort((a, b) => b[1] - a[1]);
  if (errors.length)
    out.push({
      title: 'Failures by kind',
      header: ['kind', 'count'],
      rows: errors.map(([k, n]) => [k, int(n)]),
    });
  const c = t.completionMs;
  out.push(
    t.method === 'none'
      ? {
          title: 'End to end: accepted tasks',
          text: [`Not checked: ${t.note ?? 'tasks were not followed'}.`],
        }
      : {
          title: 'End to end: accepted tasks',
          header: ['', ''],
          rows: [
            ...Object.entries({
              Accepted: t.accepted,
              Succeeded: t.succeeded,
              Failed: t.failed,
              Cancelled: t.cancelled,
            }).map(([k, n]) => [k, int(n)]),
            ['Lost', `${int(t.lost)}${t.lost ? ` (${t.missing} missing, ${t.unfinished} unfinished)` : ''}`],
            ['Duplicates', int(t.duplicates)],
            ['Succeeded without post', int(t.succeededWithoutPost)],
            ['Completion p50 / p95 / max', [c.p50, c.p95, c.max].map(ms).join(' / ')],
            ['Checked via', `${t.method}, drained in ${formatDuration(t.drainSeconds * 1000)}`],
          ],
          text: [
            'Completion latency is the server-side time from accepted (created_at) to succeeded (finished_at).',
            ...(t.note ? [`Note: ${t.note}`] : []),
          ],
        },
  );
  if (r.processes.length)
    out.push({
      title: 'Processes',
      header: ['process', 'pid', 'peak RSS', 'avg CPU', 'peak CPU'],
      rows: r.processes.map((p) => [
        p.name,
        String(p.pid),
        `${p.peakRssMb.toFixed(1)} MB`,
        `${p.avgCpuPct.toFixed(1)}%`,
        `${p.peakCpuPct.toFixed(1)}%`,
      ]),
      text: ['CPU is percent of one core.'],
    });
  if (r.stackMetrics && Object.keys(r.stackMetrics).length)
    out.push({
      title: 'Stack metrics (after the run, summed over the stack)',
      header: ['metric', 'value'],
      rows: Object.entries(r.stackMetrics).map(([k, v]) => [`\`${k}\``, String(v)]),
    });
  if (r.drift) {
    const d = r.drift;
    const growth = Object.entries(d.rssGrowthMb).map(
      ([n, mb]) => `${n} ${mb >= 0 ? '+' : ''}${mb.toFixed(1)} MB`,
    );
    const rss = growth.length ? `; RSS ${growth.join(', ')}` : '';
    out.push({
      title: 'Drift',
      text: [
        `Over stage "${d.stage}", first quarter vs last quarter: p95 ${ms(d.p95StartMs)} -> ${ms(d.p95EndMs)} (x${d.p95Ratio.toFixed(2)})${rss}.`,
      ],
    });
  }
  if (r.thresholds.length)
    out.push({
      title: 'Thresholds',
      header: ['threshold', 'actual', 'result'],
      rows: thresholdRows(r.thresholds, r.machine),
    });
  if (run.notes.length) out.push({ title: 'Notes', text: run.notes.map((n) => `- ${n}`) });
  return out;
}

export function renderMarkdown(r: Report): string {
  const top = headline(r.thresholds, r.generator).map((l) => `**${l}**`);
  return [
    `# Load test \`${r.scenario.name}\`: ${verdict(r)}`,
    '',
    ...(top.length ? [...top, ''] : []),
    `> ${r.scenario.description}`,
    '',
    ...markdown(sections(r)),
  ].join('\n');
}

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** JSON that is safe inside a <script> element. */
export const scriptJson = (value: unknown): string =>
  JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');

let uplot: { js: string; css: string } | undefined;

export function renderHtml(r: Report): string {
  const file = (f: string): string => readFileSync(require.resolve(`uplot/dist/${f}`), 'utf8');
  uplot ??= { js: file('uPlot.iife.min.js'), css: file('uPlot.min.css') };
  const o = r.overall;
  const v = verdict(r).toLowerCase();
  const data = {
    stages: r.stages.map((s) => ({ name: s.name, startS: s.startS })),
    limits: r.thresholds
      .filter((t) => /^(p\d+|avg|max)_ms$/.test(t.metric) && t.max !== undefined && !t.stage)
      .map((t) => ({ label: t.label, value: t.max, failed: t.ok === false })),
    timeline: r.timeline.points.map((p) => {
      const l = p.latencyMs;
      return [p.t, p.users, p.rps, l.p50, l.p95, l.p99, p.success, p.rateLimited, p.shed, p.errors];
    }),
    processes: r.processes.map((p) => ({
      name: p.name,
      samples: p.samples.map((s) => [s.t, s.rssMb, s.cpuPct]),
    })),
  };
  const na = r.tasks.method === 'none';
  const cards: [string, string, boolean][] = [
    ['requests', int(o.requests), false],
    ['success', pct(o.successRate), o.successRate < 1],
    ['rate limited (429)', int(o.rateLimited), o.rateLimited > 0],
    ['shed (503)', int(o.shed), o.shed > 0],
    ['p95', ms(o.latencyMs.p95), false],
    ['throughput', `${o.rps.toFixed(1)} req/s`, false],
    ['tasks lost', na ? 'n/a' : int(r.tasks.lost), r.tasks.lost > 0],
    ['duplicates', na ? 'n/a' : int(r.tasks.duplicates), r.tasks.duplicates > 0],
  ];
  const cell = (c: string, i: number): string =>
    `<td class="${i ? 'n' : ''}">${esc(c.replace(/\*\*|`/g, ''))}</td>`;
  const row = (cells: string[]): string =>
    `<tr class="${cells.some((c) => c.includes('**FAIL**')) ? 'bad' : ''}">${cells.map(cell).join('')}</tr>`;
  const body = sections(r)
    .map((s) =>
      [
        `<h2>${esc(s.title ?? 'Run')}</h2>`,
        s.header && s.rows
          ? `<table><tr>${s.header.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>${s.rows.map(row).join('')}</table>`
          : '',
        ...(s.text ?? []).map((t) => `<p class="meta">${esc(t)}</p>`),
      ].join(''),
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Load test ${esc(r.scenario.name)}: ${v}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>${uplot.css}
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1180px;color:#1d2330;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px;border-bottom:1px solid #e3e6ec;padding-bottom:4px}
.verdict{padding:2px 10px;border-radius:12px;font-size:13px;color:#fff;margin-left:8px}.passed{background:#1f9d55}.failed{background:#d64545}.aborted{background:#b7791f}
.alert{background:#fdf2f2;border:1px solid #d64545;border-radius:6px;padding:6px 10px;margin:6px 0}
.meta{color:#5b6375;font-size:12.5px}.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:10px;margin:16px 0}
.card{border:1px solid #e3e6ec;border-radius:8px;padding:10px 12px}.card .v{font-size:20px;font-weight:600}.card .k{color:#5b6375;font-size:12px}.card.warn{border-color:#d64545;background:#fdf2f2}
.charts{display:grid;grid-template-columns:1fr 1fr;gap:18px}.chart h3{font-size:13px;margin:0 0 4px}
table{border-collapse:collapse;width:100%;font-size:13px}td,th{padding:4px 8px;border-bottom:1px solid #eef0f4;text-align:left}td.n{text-align:right}tr.bad td{background:#fdf2f2}
@media (max-width:900px){.charts{grid-template-columns:1fr}}
</style></head><body>
<h1>Load test <code>${esc(r.scenario.name)}</code><span class="verdict ${v}">${v}</span></h1>
${headline(r.thresholds, r.generator)
  .map((l) => `<div class="alert">${esc(l)}</div>`)
  .join('\n')}
<div class="meta">${esc(r.scenario.description)}</div>
<div class="cards">${cards.map(([k, val, warn]) => `<div class="card${warn ? ' warn' : ''}"><div class="v">${esc(val)}</div><div class="k">${esc(k)}</div></div>`).join('')}</div>
<h2>Over time</h2>
<p class="meta">Each point is a ${r.timeline.intervalS}s interval; dashed lines mark stage starts; red lines are latency thresholds. Long-polls are left out of the latency lines.</p>
<div class="charts">
<div class="chart"><h3>Latency percentiles (ms)</h3><div id="c-latency"></div></div>
<div class="chart"><h3>Throughput (req/s) and users</h3><div id="c-rps"></div></div>
<div class="chart"><h3>Outcomes per interval</h3><div id="c-outcomes"></div></div>
${r.processes.length ? '<div class="chart"><h3>Process memory (RSS, MB)</h3><div id="c-rss"></div></div><div class="chart"><h3>Process CPU (% of one core)</h3><div id="c-cpu"></div></div>' : ''}
</div>
${body}
<script>${uplot.js}</script>
<script>
const D = ${scriptJson(data)};
const W = () => Math.max(320, document.querySelector('.chart').clientWidth);
const cols = (i) => D.timeline.map((p) => p[i]);
const marks = (limits) => ({ hooks: { draw: [(u) => {
  const c = u.ctx, b = u.bbox; c.save(); c.font = (11 * devicePixelRatio) + 'px system-ui';
  c.setLineDash([4, 4]); c.strokeStyle = '#9aa3b5'; c.fillStyle = '#5b6375';
  D.stages.forEach((s, i) => {
    const x = u.valToPos(s.startS, 'x', true);
    if (i > 0 && x >= b.left && x <= b.left + b.width) { c.beginPath(); c.moveTo(x, b.top); c.lineTo(x, b.top + b.height); c.stroke(); }
    c.fillText(String(i + 1), Math.max(x, b.left) + 4, b.top + 12 * devicePixelRatio);
  });
  c.setLineDash([6, 3]); c.strokeStyle = c.fillStyle = '#d64545';
  (limits || []).forEach((l) => {
    const y = u.valToPos(l.value, 'y', true); c.beginPath(); c.moveTo(b.left, y); c.lineTo(b.left + b.width, y); c.stroke();
    c.fillText(l.label, b.left + 24 * devicePixelRatio, y - 4 * devicePixelRatio);
  });
  c.restore();
}] } });
function chart(id, series, data, axes, limits) {
  const el = document.getElementById(id); if (!el) return;
  const top = (u, min, max) => [0, Math.max(1, max * 1.05, ...(limits || []).map((l) => l.value * 1.1))];
  new uPlot({ width: W(), height: 240, plugins: [marks(limits)], series: [{ label: 't (s)' }, ...series], axes: axes || [{}, {}],
    scales: { x: { time: false }, y: { range: top }, users: { range: (u, min, max) => [0, Math.max(1, max * 1.05)] } } }, data, el);
}
if (D.timeline.length) {
  const t = cols(0);
  chart('c-latency', [{ label: 'p50', stroke: '#7aa6f0' }, { label: 'p95', stroke: '#2f6fdb', width: 2 }, { label: 'p99', stroke: '#173f86' }], [t, cols(3), cols(4), cols(5)], null, D.limits);
  chart('c-rps', [{ label: 'req/s', stroke: '#1f9d55', width: 2 }, { label: 'users', stroke: '#b7791f', scale: 'users' }], [t, cols(2), cols(1)], [{}, {}, { scale: 'users', side: 1, grid: { show: false } }]);
  chart('c-outcomes', [{ label: 'success', stroke: '#1f9d55' }, { label: '429', stroke: '#b7791f' }, { label: '503', stroke: '#805ad5' }, { label: 'errors', stroke: '#d64545' }], [t, cols(6), cols(7), cols(8), cols(9)]);
}
const palette = ['#2f6fdb', '#1f9d55', '#b7791f', '#805ad5', '#d64545', '#319795'];
[['c-rss', 1], ['c-cpu', 2]].forEach(([id, k]) => {
  if (!D.processes.length) return;
  const times = [...new Set(D.processes.flatMap((p) => p.samples.map((s) => s[0])))].sort((a, b) => a - b);
  chart(id, D.processes.map((p, i) => ({ label: p.name, stroke: palette[i % palette.length] })),
    [times, ...D.processes.map((p) => { const m = new Map(p.samples.map((s) => [s[0], s[k]])); return times.map((x) => m.has(x) ? m.get(x) : null); })]);
});
</script>
</body></html>
`;
}
