// The scenario interpreter both load generators share: the Node runner (load-tests/runner) and the k6
// scripts (load-tests/k6). Plain CommonJS without imports or Node APIs, so Node requires it and k6 loads
// it as a CommonJS module (k6 turns the keys of module.exports into named exports). The JSON scenario
// files are the contract; this file is how both generators read them: durations, stages, the request
// mix, templates, success and think time.

const UNIT_MS = { ms: 1, s: 1000, m: 60000, h: 3600000 };

/** "500ms", "10s", "2m", "1h30m" or a number of seconds -> milliseconds. */
function parseDuration(input, what) {
  const fail = () => {
    throw new Error(`${what || 'duration'}: "${input}" is not a duration like 500ms, 10s, 2m or 1h30m`);
  };
  if (typeof input === 'number')
    return Number.isFinite(input) && input >= 0 ? Math.round(input * 1000) : fail();
  let rest = String(input).trim();
  if (rest === '') fail();
  if (/^\d+(\.\d+)?$/.test(rest)) return Math.round(Number(rest) * 1000);
  let total = 0;
  while (rest.length > 0) {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)/.exec(rest);
    if (!m) fail();
    total += Number(m[1]) * UNIT_MS[m[2]];
    rest = rest.slice(m[0].length);
  }
  return Math.round(total);
}

/** 65000 -> "1m5s", 1500 -> "1.5s". */
function formatDuration(ms) {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${Number.isInteger(s) ? s : s.toFixed(1)}s`;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = Math.round(s % 60);
  return `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${rest ? `${rest}s` : ''}`;
}

/**
 * Stages laid end to end with k6's ramping-vus semantics: a linear stage moves the users from the
 * previous target to its own; a step stage jumps at its start and holds. `vars` override the duration
 * of a stage that names a durationVar (SOAK_DURATION).
 */
function stageWindows(stages, vars) {
  let startMs = 0;
  let from = 0;
  return stages.map((s, index) => {
    const override = s.durationVar && vars ? vars[s.durationVar] : undefined;
    const useVar = override !== undefined && override !== '';
    const durationMs = parseDuration(
      useVar ? override : s.duration,
      `stages.${index}.duration${useVar ? ` (${s.durationVar})` : ''}`,
    );
    const ramp = s.ramp || 'linear';
    const users = ramp === 'step' || from === s.target ? `${s.target} users` : `${from}→${s.target} users`;
    const w = { index, from, target: s.target, ramp, durationMs, startMs, endMs: startMs + durationMs };
    w.name = s.name || `${index + 1}: ${users}, ${formatDuration(durationMs)}`;
    startMs = w.endMs;
    from = s.target;
    return w;
  });
}

const totalMs = (windows) => (windows.length ? windows[windows.length - 1].endMs : 0);

/** Index of the stage running at tMs; times past the end belong to the last stage. */
function stageIndexAt(windows, tMs) {
  for (const w of windows) if (tMs < w.endMs) return w.index;
  return Math.max(0, windows.length - 1);
}

/** Users to run at tMs after the start (the stage curve, rounded); 0 once every stage is over. */
function usersAt(windows, tMs) {
  if (tMs < 0 || tMs >= totalMs(windows)) return 0;
  const w = windows[stageIndexAt(windows, tMs)];
  if (w.ramp === 'step' || w.durationMs === 0) return w.target;
  return Math.round(w.from + ((w.target - w.from) * (tMs - w.startMs)) / w.durationMs);
}

/** Area under one stage's users curve (user-seconds): what think time turns into a request budget. */
function userSeconds(w) {
  const s = w.durationMs / 1000;
  return w.ramp === 'step' ? w.target * s : ((w.from + w.target) / 2) * s;
}

const maxUsers = (windows) => windows.reduce((max, w) => Math.max(max, w.target, w.from), 0);

const PLACEHOLDER = /\{\{\s*([a-zA-Z]+)\s*\}\}/g;
const TEMPLATE_VARS = ['persona', 'taskId', 'runId', 'vu', 'iter', 'seq', 'uuid'];

const templateVars = (text) => [...String(text).matchAll(PLACEHOLDER)].map((m) => m[1]);

/** Replaces {{name}}; a function value is called (uuid), a missing one is an error. */
function expand(template, values) {
  if (template.indexOf('{{') < 0) return template;
  return template.replace(PLACEHOLDER, (_, name) => {
    const v = values[name];
    if (v === undefined) throw new Error(`template variable {{${name}}} has no value here`);
    return String(typeof v === 'function' ? v() : v);
  });
}

const requestText = (r) => `${r.path} ${JSON.stringify(r.headers || {})} ${JSON.stringify(r.body ?? null)}`;
const usesTaskId = (r) => templateVars(requestText(r)).includes('taskId');

/** Weighted choice; `random` is injectable so tests are deterministic. */
function pickRequest(requests, random) {
  let total = 0;
  for (const r of requests) total += r.weight;
  if (total <= 0) throw new Error('the request mix is empty');
  let x = random() * total;
  for (const r of requests) {
    if (r.weight > 0 && x < r.weight) return r;
    x -= r.weight;
  }
  return requests.filter((r) => r.weight > 0).pop();
}

/** Method, path, headers and body of one request, templates expanded. */
function buildRequest(r, values, apiKey) {
  const headers = {};
  for (const [k, v] of Object.entries(r.headers || {})) headers[k] = expand(v, values);
  let body = null;
  if (r.body !== undefined) {
    body = expand(JSON.stringify(r.body), values);
    if (!Object.keys(headers).some((k) => k.toLowerCase() === 'content-type'))
      headers['content-type'] = 'application/json';
  }
  if (apiKey) headers['x-api-key'] = apiKey;
  return { method: r.method, path: expand(r.path, values), headers, body };
}

/** Statuses that count as success for a request: its `expect` list, or any 2xx. */
const isSuccess = (r, status) =>
  r.expect && r.expect.length ? r.expect.includes(status) : status >= 200 && status < 300;

/** success, rate_limited (429), shed (503) or error (anything else, network failures included). */
function outcomeOf(r, status) {
  if (status > 0 && isSuccess(r, status)) return 'success';
  return status === 429 ? 'rate_limited' : status === 503 ? 'shed' : 'error';
}

/** Seconds to pause after an answer: by "success", the exact status, or "other"; {min,max} is uniform. */
function thinkSeconds(rules, ok, status, random) {
  const rule = ok ? rules.success : rules[String(status)] !== undefined ? rules[String(status)] : rules.other;
  return typeof rule === 'number' ? rule : rule.min + (rule.max - rule.min) * random();
}

/** The mean pause after a success: with the users curve it gives the most requests a stage allows. */
const meanSuccessThink = (rules) =>
  typeof rules.success === 'number' ? rules.success : (rules.success.min + rules.success.max) / 2;

module.exports = {
  TEMPLATE_VARS,
  parseDuration,
  formatDuration,
  stageWindows,
  totalMs,
  stageIndexAt,
  usersAt,
  userSeconds,
  maxUsers,
  templateVars,
  expand,
  usesTaskId,
  pickRequest,
  buildRequest,
  isSuccess,
  outcomeOf,
  thinkSeconds,
  meanSuccessThink,
};
