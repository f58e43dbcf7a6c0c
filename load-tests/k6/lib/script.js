// Turns a scenario (load-tests/scenarios/*.json) into a k6 test: options with stages and thresholds,
// a default function that plays the request mix with the scenario's think times, and a handleSummary
// that writes JSON + Markdown. Each load-tests/k6/<scenario>.js is three lines around makeScript().
import { sleep } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import { Counter, Rate } from 'k6/metrics';
import {
  buildRequest,
  k6Options,
  pickRequest,
  stageAt,
  stageWindows,
  summaryMarkdown,
  thinkSeconds,
  usesTaskId,
} from './scenario.js';

const requestSuccess = new Rate('request_success');
const rateLimited = new Rate('rate_limited');
const shed = new Rate('shed');
const requestErrors = new Counter('request_errors');

export function makeScript(scenario) {
  const env = typeof __ENV === 'undefined' ? {} : __ENV;
  const base = (env.TARGET || 'http://127.0.0.1:8080').replace(/\/$/, '');
  const keys = (env.API_KEYS || env.API_KEY || '').split(',').filter(Boolean);
  const windows = stageWindows(scenario, env);
  const creator = scenario.requests.find((r) => r.createsTask && r.weight > 0 && !usesTaskId(r));
  const dropped = new Set();
  let lastTaskId;
  let iter = 0;

  function headers() {
    return keys.length
      ? { 'x-api-key': keys[0], 'content-type': 'application/json' }
      : { 'content-type': 'application/json' };
  }

  function setup() {
    if (env.PERSONA) return { persona: env.PERSONA, created: false };
    const id = `k6-${Date.now().toString(36)}`;
    const res = http.post(
      `${base}/v1/personas`,
      JSON.stringify({
        id,
        name: `k6 ${id}`,
        system_prompt: 'You write short posts for a load test.',
        model: 'builtin-v1',
        temperature: 0.5,
        max_tokens: 300,
      }),
      { headers: headers(), tags: { name: 'setup' } },
    );
    return res.status === 201 ? { persona: id, created: true } : { persona: 'founder-voice', created: false };
  }

  function teardown(data) {
    if (data && data.created)
      http.del(`${base}/v1/personas/${data.persona}`, null, {
        headers: headers(),
        tags: { name: 'teardown' },
      });
  }

  function run(data) {
    iter++;
    const vu = exec.vu.idInTest;
    const stage = stageAt(windows, Date.now() - exec.scenario.startTime);
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
      uuid: `${vu}-${iter}-${Math.random().toString(36).slice(2)}`,
      requestTimeout: scenario.requestTimeout,
    };
    const r = buildRequest(
      request,
      values,
      base,
      keys.length ? keys[(vu - 1) % keys.length] : undefined,
      stage.name,
    );
    const res = http.request(r.method, r.url, r.body, r.params);
    if (request.optional && res.status === 404) {
      dropped.add(request.name);
      return;
    }
    const ok = request.expect ? request.expect.includes(res.status) : res.status >= 200 && res.status < 300;
    const tags = r.params.tags;
    requestSuccess.add(ok, tags);
    rateLimited.add(res.status === 429, tags);
    shed.add(res.status === 503, tags);
    if (!ok && res.status !== 429 && res.status !== 503) requestErrors.add(1, tags);
    if (ok && request.createsTask) {
      try {
        lastTaskId = res.json('id');
      } catch {
        // not JSON: keep the previous id
      }
    }
    if (scenario.model !== 'closed-loop')
      sleep(thinkSeconds(scenario.thinkTime, ok, res.status, Math.random));
  }

  function handleSummary(data) {
    const dir = env.OUT_DIR || `load-tests/results/k6-${scenario.name}`;
    const md = summaryMarkdown(scenario, data);
    return {
      stdout: md,
      [`${dir}/k6-summary.json`]: JSON.stringify(data, null, 2),
      [`${dir}/k6-summary.md`]: md,
    };
  }

  return { options: k6Options(scenario, env), setup, teardown, run, handleSummary };
}
