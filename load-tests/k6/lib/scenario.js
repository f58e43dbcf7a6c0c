// Pure scenario logic shared by every k6 script: no k6 imports here, so the unit tests load this file
// with Node and check that each scenario maps to valid k6 options. It mirrors load-tests/runner
// (duration grammar, stages, think time, weighted mix, templates); the JSON scenario files are the contract.

const UNIT_MS = { ms: 1, s: 1000, m: 60000, h: 3600000 };

/** "500ms", "10s", "2m", "1h30m" or a number of seconds -> milliseconds. */
export function parseDuration(input) {
  if (typeof input === 'number') return Math.round(input * 1000);
  let rest = String(input).trim();
  if (/^\d+(\.\d+)?$/.test(rest)) return Math.round(Number(rest) * 1000);
  let total = 0;
  while (rest.length > 0) {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)/.exec(rest);
    if (!m) throw new Error(`"${input}" is not a duration like 500ms, 10s, 2m or 1h30m`);
    total += Number(m[1]) * UNIT_MS[m[2]];
    rest = rest.slice(m[0].length);
  }
  return Math.round(total);
}

/** Stage windows with names and durations resolved; env overrides a stage's durationVar (SOAK_DURATION). */
export function stageWindows(scenario, env) {
  let start = 0;
  let from = 0;
  return scenario.stages.map((s, index) => {
    const override = s.durationVar && env ? env[s.durationVar] : undefined;
    const durationMs = parseDuration(override !== undefined && override !== '' ? override : s.duration);
    const ramp = s.ramp || 'linear';
    const name =
      s.name ||
      `${index + 1}: ${ramp === 'step' || from === s.target ? `${s.target} users` : `${from}→${s.target} users`}`;
    const w = {
      index,
      name,
      from,
      target: s.target,
      ramp,
      durationMs,
      startMs: start,
      endMs: start + durationMs,
    };
    start = w.endMs;
    from = s.target;
    return w;
  });
}

export function stageAt(windows, elapsedMs) {
  for (const w of windows) if (elapsedMs < w.endMs) return w;
  return windows[windows.length - 1];
}

/** k6 ramping-vus stages: a step stage becomes an instant jump ("0s") followed by a hold. */
export function k6Stages(windows) {
  const out = [];
  for (const w of windows) {
    if (w.ramp === 'step') out.push({ duration: '0s', target: w.target });
    out.push({ duration: `${w.durationMs}ms`, target: w.target });
  }
  return out;
}

const TREND = {
  p50_ms: 'med',
  p90_ms: 'p(90)',
  p95_ms: 'p(95)',
  p99_ms: 'p(99)',
  avg_ms: 'avg',
  max_ms: 'max',
};

function selector(t) {
  const tags = [];
  if (t.request) tags.push(`name:${t.request}`);
  else tags.push('longpoll:no');
  if (t.stage) tags.push(`stage:${t.stage}`);
  return `{${tags.join(',')}}`;
}

/**
 * Scenario thresholds as k6 thresholds. Metrics only the Node runner measures (tasks.*, process.*,
 * drift.*, efficiency) cannot be expressed in k6 and are returned in `skipped`.
 */
export function k6Thresholds(scenario) {
  const thresholds = {};
  const skipped = [];
  const add = (metric, expr) => {
    (thresholds[metric] = thresholds[metric] || []).push(expr);
  };
  for (const t of scenario.thresholds || []) {
    const bounds = [];
    if (t.max !== undefined) bounds.push(['<=', t.max]);
    if (t.min !== undefined) bounds.push(['>=', t.min]);
    const sel = t.request || t.stage ? selector(t) : '{longpoll:no}';
    for (const [op, v] of bounds) {
      if (TREND[t.metric]) add(`http_req_duration${sel}`, `${TREND[t.metric]}${op}${v}`);
      else if (t.metric === 'success_rate') add(`request_success${sel}`, `rate${op}${v}`);
      else if (t.metric === 'error_rate')
        add(`request_success${sel}`, `rate${op === '<=' ? '>=' : '<='}${1 - v}`);
      else if (t.metric === 'rate_limited_rate') add(`rate_limited${sel}`, `rate${op}${v}`);
      else if (t.metric === 'shed_rate') add(`shed${sel}`, `rate${op}${v}`);
      else if (t.metric === 'rate_limited') add(`rate_limited${sel}`, `passes${op}${v}`);
      else if (t.metric === 'shed') add(`shed${sel}`, `passes${op}${v}`);
      else if (t.metric === 'errors') add(`request_errors${sel}`, `count${op}${v}`);
      else if (t.metric === 'requests') add(`http_reqs${sel}`, `count${op}${v}`);
      else if (t.metric === 'rps') add(`http_reqs${sel}`, `rate${op}${v}`);
      else {
        skipped.push(t.metric);
        break;
      }
    }
  }
  return { thresholds, skipped };
}

/** The whole k6 options object for a scenario. */
export function k6Options(scenario, env) {
  const windows = stageWindows(scenario, env);
  const { thresholds } = k6Thresholds(scenario);
  return {
    scenarios: {
      [scenario.name]: {
        executor: 'ramping-vus',
        startVUs: 0,
        stages: k6Stages(windows),
        gracefulRampDown: '0s',
        gracefulStop: `${parseDuration(scenario.gracefulStop || '10s')}ms`,
      },
    },
    thresholds,
    summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
    discardResponseBodies: false,
  };
}

export function thinkSeconds(rules, ok, status, random) {
  const rule = ok ? rules.success : rules[String(status)] !== undefined ? rules[String(status)] : rules.other;
  return typeof rule === 'number' ? rule : rule.min + (rule.max - rule.min) * random();
}

export function pickRequest(requests, random) {
  const live = requests.filter((r) => r.weight > 0);
  const total = live.reduce((a, r) => a + r.weight, 0);
  let x = random() * total;
  for (const r of live) {
    if (x < r.weight) return r;
    x -= r.weight;
  }
  return live[live.length - 1];
}

export function usesTaskId(request) {
  return JSON.stringify([
    request.path,
    request.headers || {},
    request.body === undefined ? null : request.body,
  ]).includes('{{taskId}}');
}

export function expand(template, values) {
  return template.replace(/\{\{\s*([a-zA-Z]+)\s*\}\}/g, (_, name) => {
    if (values[name] === undefined) throw new Error(`template variable {{${name}}} has no value`);
    return String(values[name]);
  });
}

/** A request ready for http.request: method, url, body, params (headers + tags). */
export function buildRequest(request, values, base, apiKey, stageName) {
  const headers = {};
  for (const [k, v] of Object.entries(request.headers || {})) headers[k] = expand(v, values);
  let body = null;
  if (request.body !== undefined) {
    body = expand(JSON.stringify(request.body), values);
    headers['content-type'] = headers['content-type'] || 'application/json';
  }
  if (apiKey) headers['x-api-key'] = apiKey;
  const timeoutMs = parseDuration(values.requestTimeout || '30s');
  return {
    method: request.method,
    url: `${base}${expand(request.path, values)}`,
    body,
    params: {
      headers,
      timeout: `${timeoutMs}ms`,
      tags: { name: request.name, stage: stageName, longpoll: request.longPoll ? 'yes' : 'no' },
    },
  };
}

function fmt(v) {
  return v === undefined ? '-' : Number(v).toFixed(2);
}

/** Markdown for handleSummary: the same headline table as the Node runner's report.md. */
export function summaryMarkdown(scenario, data) {
  const m = data.metrics || {};
  const d = (m['http_req_duration{longpoll:no}'] || m.http_req_duration || { values: {} }).values;
  const reqs = (m.http_reqs || { values: {} }).values;
  const ok = (m.request_success || { values: {} }).values;
  const limited = (m.rate_limited || { values: {} }).values;
  const shed = (m.shed || { values: {} }).values;
  const lines = [
    `# k6: \`${scenario.name}\``,
    '',
    `> ${scenario.description}`,
    '',
    '| metric | value |',
    '| --- | ---: |',
    `| Total requests | ${reqs.count || 0} |`,
    `| Success | ${fmt((ok.rate || 0) * 100)}% |`,
    `| Rate limited (429) | ${limited.passes || 0} |`,
    `| Shed (503) | ${shed.passes || 0} |`,
    `| Average | ${fmt(d.avg)} ms |`,
    `| P90 | ${fmt(d['p(90)'])} ms |`,
    `| P95 | ${fmt(d['p(95)'])} ms |`,
    `| P99 | ${fmt(d['p(99)'])} ms |`,
    `| Throughput | ${fmt(reqs.rate)} req/s |`,
    `| Max users | ${(m.vus_max || { values: {} }).values.max || 0} |`,
    `| Data sent / received | ${(m.data_sent || { values: {} }).values.count || 0} B / ${(m.data_received || { values: {} }).values.count || 0} B |`,
    '',
    '## Thresholds',
    '',
    '| metric | threshold | result |',
    '| --- | --- | --- |',
  ];
  for (const [name, metric] of Object.entries(m)) {
    for (const [expr, res] of Object.entries(metric.thresholds || {}))
      lines.push(`| ${name} | ${expr} | ${res.ok ? 'pass' : '**FAIL**'} |`);
  }
  const { skipped } = k6Thresholds(scenario);
  if (skipped.length)
    lines.push('', `Not checked by k6 (the Node runner measures them): ${[...new Set(skipped)].join(', ')}.`);
  return `${lines.join('\n')}\n`;
}
