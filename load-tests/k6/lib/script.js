// Turns a scenario (load-tests/scenarios/*.json) into a k6 test: options with stages and thresholds in
// k6's own grammar, a default function that plays the request mix with the scenario's think times through
// the interpreter the Node runner uses (load-tests/lib/scenario.js), and a handleSummary that writes JSON
// and Markdown. load-tests/k6/run.js is a few lines around makeScript().
import { sleep } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import { Counter, Rate } from 'k6/metrics';
import {
  buildRequest,
  maxUsers,
  outcomeOf,
  parseDuration,
  pickRequest,
  stageIndexAt,
  stageWindows,
  thinkSeconds,
  totalMs,
  usesTaskId,
} from '../../lib/scenario.js';

// Custom metrics, by k6 type: a Rate takes only `rate` thresholds, a Counter `count` and `rate`.
const rateLimited = new Rate('rate_limited');
const shed = new Rate('shed');
const rateLimitedRequests = new Counter('rate_limited_requests');
const shedRequests = new Counter('shed_requests');
const requestErrors = new Counter('request_errors');

/** k6 ramping-vus stages: a step stage becomes an instant jump ("0s") followed by a hold. */
export function k6Stages(windows) {
  return windows.flatMap((w) => [
    ...(w.ramp === 'step' ? [{ duration: '0s', target: w.target }] : []),
    { duration: `${w.durationMs}ms`, target: w.target },
  ]);
}

const TREND = {
  p50_ms: 'med',
  p90_ms: 'p(90)',
  p95_ms: 'p(95)',
  p99_ms: 'p(99)',
  avg_ms: 'avg',
  max_ms: 'max',
};
// metric -> [k6 metric, aggregation]; success_rate is the complement of http_req_failed's rate.
const MAPPED = {
  error_rate: ['http_req_failed', 'rate'],
  rate_limited_rate: ['rate_limited', 'rate'],
  shed_rate: ['shed', 'rate'],
  rate_limited: ['rate_limited_requests', 'count'],
  shed: ['shed_requests', 'count'],
  errors: ['request_errors', 'count'],
  requests: ['http_reqs', 'count'],
  rps: ['http_reqs', 'rate'],
};

/**
 * Scenario thresholds as k6 thresholds. What k6 cannot check comes back in `skipped`: metrics only the
 * Node runner measures (tasks.*, process.*, drift.*, efficiency), bounds against a baseline (the runner's
 * --baseline), and "info" thresholds, which never gate a run.
 */
export function k6Thresholds(scenario) {
  const thresholds = {};
  const skipped = [];
  for (const t of scenario.thresholds || []) {
    const tags = [
      t.request ? `name:${t.request}` : TREND[t.metric] && 'longpoll:no',
      t.stage && `stage:${t.stage}`,
    ].filter(Boolean);
    const sel = tags.length ? `{${tags.join(',')}}` : '';
    const relative = [t.maxRatio, t.minRatio, t.maxDelta, t.minDelta].some((b) => b !== undefined);
    const complement = t.metric === 'success_rate';
    const [metric, agg] = TREND[t.metric]
      ? ['http_req_duration', TREND[t.metric]]
      : complement
        ? ['http_req_failed', 'rate']
        : MAPPED[t.metric] || [];
    if (!metric || relative || t.info) {
      skipped.push(`${t.metric}${relative ? ' (against the baseline)' : t.info ? ' (info)' : ''}`);
      continue;
    }
    const key = `${metric}${sel}`;
    thresholds[key] = thresholds[key] || [];
    if (t.max !== undefined)
      thresholds[key].push(complement ? `${agg}>=${+(1 - t.max).toFixed(6)}` : `${agg}<=${t.max}`);
    if (t.min !== undefined)
      thresholds[key].push(complement ? `${agg}<=${+(1 - t.min).toFixed(6)}` : `${agg}>=${t.min}`);
  }
  return { thresholds, skipped };
}

/** The whole k6 options object: ramping-vus, or shared-iterations when the scenario counts iterations. */
export function k6Options(scenario, env) {
  const windows = stageWindows(scenario.stages, env);
  const iterations =
    (scenario.iterationsVar && env && Number(env[scenario.iterationsVar])) || scenario.iterations;
  const gracefulStop = `${parseDuration(scenario.gracefulStop || '10s')}ms`;
  const executor = iterations
    ? {
        executor: 'shared-iterations',
        vus: maxUsers(windows),
        iterations,
        maxDuration: `${totalMs(windows)}ms`,
        gracefulStop,
      }
    : {
        executor: 'ramping-vus',
        startVUs: 0,
        stages: k6Stages(windows),
        gracefulRampDown: '0s',
        gracefulStop,
      };
  return {
    scenarios: { [scenario.name]: executor },
    thresholds: k6Thresholds(scenario).thresholds,
    summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
  };
}

/** Markdown for handleSummary: the headline table of the Node runner's report.md, and the thresholds. */
export function summaryMarkdown(scenario, data) {
  const m = data.metrics || {};
  const val = (name, key) => ((m[name] || {}).values || {})[key];
  const fmt = (x) => (x === undefined ? '-' : Number(x).toFixed(2));
  const d = m['http_req_duration{longpoll:no}'] ? 'http_req_duration{longpoll:no}' : 'http_req_duration';
  const lines = [
    `# k6: \`${scenario.name}\``,
    '',
    `> ${scenario.description}`,
    '',
    '| metric | value |',
    '| --- | ---: |',
    `| Total requests | ${val('http_reqs', 'count') || 0} |`,
    `| Success | ${fmt((1 - (val('http_req_failed', 'rate') || 0)) * 100)}% |`,
    `| Rate limited (429) | ${val('rate_limited_requests', 'count') || 0} |`,
    `| Shed (503) | ${val('shed_requests', 'count') || 0} |`,
    ...['avg', 'p(90)', 'p(95)', 'p(99)'].map(
      (k) => `| ${k === 'avg' ? 'Average' : k.toUpperCase().replace(/[()]/g, '')} | ${fmt(val(d, k))} ms |`,
    ),
    `| Throughput | ${fmt(val('http_reqs', 'rate'))} req/s |`,
    `| Max users | ${val('vus_max', 'max') || 0} |`,
    `| Data sent / received | ${val('data_sent', 'count') || 0} B / ${val('data_received', 'count') || 0} B |`,
    '',
    '## Thresholds',
    '',
    '| metric | threshold | result |',
    '| --- | --- | --- |',
  ];
  for (const [name, metric] of Object.entries(m))
    for (const [expr, res] of Object.entries(metric.thresholds || {}))
      lines.push(`| ${name} | ${expr} | ${res.ok ? 'pass' : '**FAIL**'} |`);
  const { skipped } = k6Thresholds(scenario);
  if (skipped.length)
    lines.push('', `Not checked by k6 (the Node runner checks them): ${[...new Set(skipped)].join(', ')}.`);
  return `${lines.join('\n')}\n`;
}

export function makeScript(scenario) {
  const env = typeof __ENV === 'undefined' ? {} : __ENV;
  const base = (env.TARGET || 'http://127.0.0.1:8080').replace(/\/$/, '');
  const keys = (env.API_KEYS || env.API_KEY || '').split(',').filter(Boolean);
  const windows = stageWindows(scenario.stages, env);
  const creator = scenario.requests.find((r) => r.createsTask && r.weight > 0 && !usesTaskId(r));
  // http_req_failed counts what a request does not expect; an optional endpoint may answer 404 once.
  const expected = Object.fromEntries(
    scenario.requests.map((r) => [
      r.name,
      http.expectedStatuses(...(r.expect || [{ min: 200, max: 299 }]), ...(r.optional ? [404] : [])),
    ]),
  );
  const timeout = `${parseDuration(scenario.requestTimeout || '30s')}ms`;
  const dropped = new Set();
  const headers = keys.length
    ? { 'x-api-key': keys[0], 'content-type': 'application/json' }
    : { 'content-type': 'application/json' };
  let lastTaskId;
  let iter = 0;

  function setup() {
    if (env.PERSONA) return { persona: env.PERSONA, created: false };
    const id = `k6-${Date.now().toString(36)}`;
    const body = {
      id,
      name: `k6 ${id}`,
      system_prompt: 'You write short posts for a load test.',
      model: 'builtin-v1',
      temperature: 0.5,
      max_tokens: 300,
    };
    const res = http.post(`${base}/v1/personas`, JSON.stringify(body), { headers, tags: { name: 'setup' } });
    return res.status === 201 ? { persona: id, created: true } : { persona: 'founder-voice', created: false };
  }

  function teardown(data) {
    if (data && data.created)
      http.del(`${base}/v1/personas/${data.persona}`, null, { headers, tags: { name: 'teardown' } });
  }

  function run(data) {
    iter++;
    const startedMs = Date.now();
    const vu = exec.vu.idInTest;
    const stage = windows[stageIndexAt(windows, Date.now() - exec.scenario.startTime)];
    let request = pickRequest(
      scenario.requests.filter((r) => !dropped.has(r.name)),
      Math.random,
    );
    if (usesTaskId(request) && !lastTaskId) request = creator;
    const values = {
      persona: data.persona,
      taskId: lastTaskId,
      runId: `k6-${exec.scenario.startTime}`,
      vu,
      iter,
      seq: `${vu}-${iter}`,
      uuid: () => `${vu}-${iter}-${Math.random().toString(36).slice(2)}`,
    };
    const r = buildRequest(request, values, keys.length ? keys[(vu - 1) % keys.length] : undefined);
    const tags = { name: request.name, stage: stage.name, longpoll: request.longPoll ? 'yes' : 'no' };
    const res = http.request(r.method, `${base}${r.path}`, r.body, {
      headers: r.headers,
      timeout,
      tags,
      responseCallback: expected[request.name],
    });
    if (request.optional && res.status === 404) {
      dropped.add(request.name);
      return;
    }
    const outcome = outcomeOf(request, res.status);
    rateLimited.add(outcome === 'rate_limited', tags);
    shed.add(outcome === 'shed', tags);
    if (outcome === 'rate_limited') rateLimitedRequests.add(1, tags);
    if (outcome === 'shed') shedRequests.add(1, tags);
    if (outcome === 'error') requestErrors.add(1, tags);
    if (outcome === 'success' && request.createsTask) {
      try {
        lastTaskId = res.json('id');
      } catch {
        // not JSON: keep the previous id
      }
    }
    // Paced: the next request starts one pace after this one started, whatever the latency.
    if (scenario.model === 'paced')
      sleep(Math.max(0, scenario.thinkTime.success - (Date.now() - startedMs) / 1000));
    else if (scenario.model !== 'closed-loop')
      sleep(thinkSeconds(scenario.thinkTime, outcome === 'success', res.status, Math.random));
  }

  /** JSON and Markdown into OUT_DIR, default the working directory: k6 cannot create a folder. */
  function handleSummary(data) {
    const file = `${env.OUT_DIR || '.'}/k6-${scenario.name}-summary`;
    const md = summaryMarkdown(scenario, data);
    return { stdout: md, [`${file}.json`]: JSON.stringify(data, null, 2), [`${file}.md`]: md };
  }

  return { options: k6Options(scenario, env), setup, teardown, run, handleSummary };
}
