import { formatDuration } from './duration';
import { bytes, countAndRate, int, ms, pct, table } from './format';
import type { Report, StatsBlock } from './report';

/** report.md: the seed's summary table first, then one line per stage, requests, tasks, processes, thresholds. */
export function renderMarkdown(r: Report): string {
  const o = r.overall;
  const verdict = r.run.aborted ? 'ABORTED' : r.passed ? 'PASSED' : 'FAILED';
  const out: string[] = [];
  out.push(`# Load test \`${r.scenario.name}\`: ${verdict}`, '', `> ${r.scenario.description}`, '');
  out.push(
    table(
      ['run', ''],
      [
        [
          'Target',
          `${r.run.target} (${r.run.mode === 'local' ? 'stack started by load-test:local' : r.run.mode === 'e2e' ? 'apps started in-process' : 'running stack'})`,
        ],
        ['Started', `${r.run.startedAt} (${formatDuration(r.run.durationS * 1000)} of load)`],
        ['Command', `\`${r.run.command}\``],
        [
          'Code',
          r.run.code.commit
            ? `${r.run.code.commit.slice(0, 12)} (${r.run.code.branch ?? '?'}${r.run.code.dirty ? ', uncommitted changes' : ''})`
            : 'unknown',
        ],
        ['Machine', machineLine(r)],
        ['API keys', r.run.apiKeys ? `${r.run.apiKeys} key(s), X-API-Key per user` : 'none (auth off)'],
        ...Object.entries(r.run.settings).map(([k, v]) => [k, `\`${v}\``]),
      ],
      ['l', 'l'],
    ),
    '',
  );

  out.push('## Summary', '');
  const throughput = o.thinkBoundRps
    ? `${o.rps.toFixed(1)} req/s (${pct(o.efficiency ?? 0)} of the ${o.thinkBoundRps.toFixed(1)} req/s the think time allows)`
    : `${o.rps.toFixed(1)} req/s`;
  out.push(
    table(
      ['metric', 'value'],
      [
        ['Total requests', int(o.requests)],
        ['Success', countAndRate(o.success, o.successRate)],
        ['Rate limited (429)', countAndRate(o.rateLimited, o.rateLimitedRate)],
        ['Shed (503)', countAndRate(o.shed, o.shedRate)],
        ['Other errors', countAndRate(o.errors, o.requests ? o.errors / o.requests : 0)],
        ['Average', ms(o.latencyMs.avg)],
        ['P50', ms(o.latencyMs.p50)],
        ['P90', ms(o.latencyMs.p90)],
        ['P95', ms(o.latencyMs.p95)],
        ['P99', ms(o.latencyMs.p99)],
        ['Max', ms(o.latencyMs.max)],
        ['Throughput', throughput],
        ['Max users', int(o.maxUsers)],
        ['Data sent / received', `${bytes(o.sentBytes)} / ${bytes(o.receivedBytes)}`],
      ],
    ),
    '',
  );
  if (r.scenario.file.requests.some((q) => q.longPoll && (r.requests[q.name]?.requests ?? 0) > 0)) {
    out.push(
      'Long-poll requests count as requests but are left out of the latency figures above (see Requests).',
      '',
    );
  }

  out.push('## Stages', '');
  out.push(
    table(
      ['stage', 'users', 'time', ...BLOCK_HEADERS, 'sent', 'received'],
      r.stages.map((s) => [
        s.name,
        s.from === s.target || s.ramp === 'step' ? `${s.target}` : `${s.from}→${s.target}`,
        formatDuration(s.seconds * 1000),
        ...blockCells(s),
        bytes(s.sentBytes),
        bytes(s.receivedBytes),
      ]),
    ),
    '',
  );

  out.push('## Requests', '');
  out.push(
    table(
      ['request', ...BLOCK_HEADERS],
      Object.entries(r.requests).map(([name, b]) => [
        name + (r.scenario.file.requests.find((q) => q.name === name)?.longPoll ? ' (long-poll)' : ''),
        ...blockCells(b),
      ]),
    ),
    '',
  );

  const errors = Object.entries(o.errorsByKind).sort((a, b) => b[1] - a[1]);
  if (errors.length) {
    out.push(
      '## Failures by kind',
      '',
      table(
        ['kind', 'count'],
        errors.map(([k, n]) => [k, int(n)]),
      ),
      '',
    );
  }

  const t = r.tasks;
  out.push('## End to end: accepted tasks', '');
  if (t.method === 'none') out.push(`Not checked: ${t.note ?? 'tasks were not followed'}.`, '');
  else {
    out.push(
      table(
        [
          'accepted',
          'succeeded',
          'failed',
          'cancelled',
          'lost',
          'duplicates',
          'succeeded without post',
          'completion p50',
          'completion p95',
          'completion max',
          'checked via',
          'drain',
        ],
        [
          [
            int(t.accepted),
            int(t.succeeded),
            int(t.failed),
            int(t.cancelled),
            `${int(t.lost)}${t.lost ? ` (${t.missing} missing, ${t.unfinished} unfinished)` : ''}`,
            int(t.duplicates),
            int(t.succeededWithoutPost),
            ms(t.completionMs.p50),
            ms(t.completionMs.p95),
            ms(t.completionMs.max),
            t.method,
            formatDuration(t.drainSeconds * 1000),
          ],
        ],
      ),
      '',
      'Completion latency is the server-side time from accepted (created_at) to succeeded (finished_at).',
      '',
    );
    if (t.note) out.push(`Note: ${t.note}`, '');
  }

  if (r.processes.length) {
    out.push('## Processes', '');
    out.push(
      table(
        ['process', 'pid', 'peak RSS', 'avg CPU', 'peak CPU'],
        r.processes.map((p) => [
          p.name,
          String(p.pid),
          `${p.peakRssMb.toFixed(1)} MB`,
          `${p.avgCpuPct.toFixed(1)}%`,
          `${p.peakCpuPct.toFixed(1)}%`,
        ]),
      ),
      '',
      'CPU is percent of one core.',
      '',
    );
  }

  if (r.drift) {
    const d = r.drift;
    const growth = Object.entries(d.rssGrowthMb).map(
      ([name, mb]) => `${name} ${mb >= 0 ? '+' : ''}${mb.toFixed(1)} MB`,
    );
    out.push(
      '## Drift',
      '',
      `Over stage "${d.stage}", first quarter vs last quarter: p95 ${ms(d.p95StartMs)} -> ${ms(d.p95EndMs)} (x${d.p95Ratio.toFixed(2)})${growth.length ? `; RSS ${growth.join(', ')}` : ''}.`,
      '',
    );
  }

  if (r.thresholds.length) {
    out.push('## Thresholds', '');
    out.push(
      table(
        ['threshold', 'actual', 'result'],
        r.thresholds.map((th) => [
          th.label,
          th.actual === null ? '-' : String(round3(th.actual)),
          th.ok === null ? 'not measured' : th.ok ? 'pass' : '**FAIL**',
        ]),
      ),
      '',
    );
  }

  if (r.run.notes.length) out.push('## Notes', '', ...r.run.notes.map((n) => `- ${n}`), '');
  return out.join('\n');
}

/** Column titles of blockCells, in order. */
const BLOCK_HEADERS = [
  'requests',
  'success',
  '429',
  '503',
  'errors',
  'avg',
  'p50',
  'p90',
  'p95',
  'p99',
  'max',
  'req/s',
];

function blockCells(b: StatsBlock): string[] {
  const l = b.latencyMs;
  // A request that never ran (an optional endpoint the target lacks) has no rates or latencies.
  if (b.requests === 0) return ['0', ...Array.from({ length: BLOCK_HEADERS.length - 1 }, () => '-')];
  return [
    int(b.requests),
    pct(b.successRate),
    int(b.rateLimited),
    int(b.shed),
    int(b.errors),
    ms(l.avg),
    ms(l.p50),
    ms(l.p90),
    ms(l.p95),
    ms(l.p99),
    ms(l.max),
    b.rps.toFixed(1),
  ];
}

export function machineLine(r: Pick<Report, 'machine'>): string {
  const m = r.machine;
  return [
    `${m.cpuModel}, ${m.cores} cores, ${m.memoryGb} GB RAM`,
    `Node ${m.node}`,
    m.postgres && `Postgres ${m.postgres}`,
    m.redis && `Redis ${m.redis}`,
    `load avg at start ${m.loadAverage.join(' ')}`,
  ]
    .filter(Boolean)
    .join('; ');
}

const round3 = (n: number): number => Math.round(n * 1000) / 1000;
