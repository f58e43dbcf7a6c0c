import * as acorn from 'acorn';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { recorded, resetStub, respondWith } from '../test/k6-stub';
import { listScenarios, scenarioPath } from '../runner/scenario';
import { parseDuration, stageWindows } from '../lib/scenario';
// The k6 script library is an ES module for k6; jest compiles it (see jest.config.js) with k6's built-ins stubbed.
import { k6Options, k6Stages, k6Thresholds, makeScript, summaryMarkdown } from './lib/script.js';

const K6_DIR = __dirname;
const load = (name: string) => JSON.parse(readFileSync(scenarioPath(name), 'utf8'));
type Node = acorn.Node & Record<string, any>;

function walk(node: Node, visit: (n: Node) => void): void {
  visit(node);
  for (const value of Object.values(node)) {
    if (Array.isArray(value)) value.forEach((v) => v && typeof v.type === 'string' && walk(v, visit));
    else if (value && typeof value === 'object' && typeof (value as Node).type === 'string')
      walk(value as Node, visit);
  }
}
const parseModule = (file: string): Node =>
  acorn.parse(readFileSync(file, 'utf8'), { ecmaVersion: 'latest', sourceType: 'module' }) as Node;

/**
 * k6's threshold grammar, ported from k6 (metrics/thresholds_parser.go, metrics/metric_type.go,
 * metrics.ParseMetricName), so a threshold k6 would refuse fails here instead of at `k6 run`:
 *   assertion          -> aggregation_method whitespace* operator whitespace* float
 *   aggregation_method -> "count" | "rate" | "value" | "avg" | "min" | "max" | "med" | "p(" float ")"
 *   operator           -> ">" | ">=" | "<=" | "<" | "==" | "===" | "!="
 *   float              -> digit+ ("." digit+)?
 * and each metric type takes only its own aggregations: Counter count|rate, Gauge value, Rate rate,
 * Trend avg|min|max|med|p(N). A threshold key is a metric name with an optional {tag:value,...} selector.
 */
const OPERATORS = ['<=', '<', '>=', '>', '===', '==', '!=']; // scanned in this order, as k6 does
const FLOAT = /^\d+(\.\d+)?$/;
const SUPPORTED: Record<string, string[]> = {
  Counter: ['count', 'rate'],
  Gauge: ['value'],
  Rate: ['rate'],
  Trend: ['avg', 'min', 'max', 'med', 'p'],
};
const BUILTIN: Record<string, string> = {
  checks: 'Rate',
  data_received: 'Counter',
  data_sent: 'Counter',
  http_req_blocked: 'Trend',
  http_req_connecting: 'Trend',
  http_req_duration: 'Trend',
  http_req_failed: 'Rate',
  http_req_receiving: 'Trend',
  http_req_sending: 'Trend',
  http_req_tls_handshaking: 'Trend',
  http_req_waiting: 'Trend',
  http_reqs: 'Counter',
  iteration_duration: 'Trend',
  iterations: 'Counter',
  vus: 'Gauge',
  vus_max: 'Gauge',
};

function parseThresholdExpression(input: string): {
  method: string;
  percentile?: number;
  operator: string;
  value: number;
} {
  const op = OPERATORS.find((o) => input.includes(o));
  if (!op) throw new Error(`failed parsing threshold expression "${input}": malformed threshold expression`);
  const at = input.indexOf(op);
  const [method, value] = [input.slice(0, at).trim(), input.slice(at + op.length).trim()];
  const percentile = /^p\((.*)\)$/.exec(method)?.[1];
  if (
    !['value', 'count', 'rate', 'avg', 'min', 'med', 'max'].includes(method) &&
    !(percentile && FLOAT.test(percentile))
  )
    throw new Error(`failed parsing threshold expression "${input}": failed parsing method from expression`);
  if (!FLOAT.test(value))
    throw new Error(`failed parsing threshold expression "${input}": right hand side is not a float`);
  return {
    method: percentile ? 'p' : method,
    percentile: percentile ? Number(percentile) : undefined,
    operator: op,
    value: Number(value),
  };
}

function parseMetricName(name: string): { name: string; tags: string[] } {
  const open = name.indexOf('{');
  const close = name.lastIndexOf('}');
  if (open < 0 && close < 0) return { name, tags: [] };
  if (open < 0 || close < 0 || close < open || close !== name.length - 1)
    throw new Error(`parsing metric name failed: "${name}" has a malformed tag selector`);
  const tags = name.slice(open + 1, close).split(',');
  for (const t of tags) {
    const kv = t.split(':');
    if (kv.length < 2 || kv.slice(1).join(':') === '')
      throw new Error(`parsing metric name failed: tag "${t}" is malformed`);
  }
  return { name: name.slice(0, open), tags: tags.map((t) => t.trim()) };
}

/** Custom metrics the script library declares, by k6 type: `new Rate('name')` and the like. */
function customMetrics(): Record<string, string> {
  const out: Record<string, string> = {};
  walk(parseModule(path.join(K6_DIR, 'lib', 'script.js')), (n) => {
    if (n.type === 'NewExpression' && SUPPORTED[n.callee.name] && n.arguments[0]?.type === 'Literal')
      out[n.arguments[0].value] = n.callee.name;
  });
  return out;
}

/** Every problem k6 would raise for these thresholds; empty when k6 accepts them. */
function k6Problems(thresholds: Record<string, string[]>, metrics: Record<string, string>): string[] {
  const problems: string[] = [];
  for (const [key, exprs] of Object.entries(thresholds)) {
    try {
      const type = metrics[parseMetricName(key).name];
      if (!type) throw new Error(`no metric name "${parseMetricName(key).name}" found`);
      for (const e of exprs) {
        const { method } = parseThresholdExpression(e);
        if (!SUPPORTED[type].includes(method))
          throw new Error(`${e}: the aggregation method "${method}" is not supported for a ${type} metric`);
      }
    } catch (err) {
      problems.push(`${key}: ${(err as Error).message}`);
    }
  }
  return problems;
}

describe("k6's threshold grammar (ported)", () => {
  const metrics = { ...BUILTIN, rate_limited: 'Rate', hits: 'Counter' };

  it('accepts what k6 accepts', () => {
    expect(parseThresholdExpression('p(99.9) < 200')).toEqual({
      method: 'p',
      percentile: 99.9,
      operator: '<',
      value: 200,
    });
    expect(parseThresholdExpression('rate<=0.01')).toMatchObject({
      method: 'rate',
      operator: '<=',
      value: 0.01,
    });
    expect(parseMetricName('http_req_duration{name:create_task,stage:ramp 50}')).toEqual({
      name: 'http_req_duration',
      tags: ['name:create_task', 'stage:ramp 50'],
    });
    expect(
      k6Problems(
        { 'http_req_duration{longpoll:no}': ['p(95)<=15', 'med<5'], hits: ['count<=0', 'rate>1'] },
        metrics,
      ),
    ).toEqual([]);
  });

  it('refuses what k6 refuses', () => {
    expect(k6Problems({ 'rate_limited{longpoll:no}': ['passes<=0'] }, metrics)).toEqual([
      'rate_limited{longpoll:no}: failed parsing threshold expression "passes<=0": failed parsing method from expression',
    ]);
    expect(k6Problems({ rate_limited: ['count<=0'] }, metrics)[0]).toContain(
      'not supported for a Rate metric',
    );
    expect(k6Problems({ http_req_duration: ['rate<1'] }, metrics)[0]).toContain(
      'not supported for a Trend metric',
    );
    expect(k6Problems({ nope: ['count<1'] }, metrics)[0]).toContain('no metric name "nope" found');
    expect(() => parseThresholdExpression('p95<1')).toThrow('failed parsing method');
    expect(() => parseThresholdExpression('avg 1')).toThrow('malformed threshold expression');
    expect(() => parseThresholdExpression('avg<-1')).toThrow('right hand side');
    expect(() => parseMetricName('http_reqs{name:x')).toThrow('malformed tag selector');
    expect(() => parseMetricName('http_reqs{name}')).toThrow('tag "name" is malformed');
  });
});

describe('k6 scripts', () => {
  const scripts = readdirSync(K6_DIR).filter((f) => f.endsWith('.js'));

  it('has one script for every scenario: it opens the file SCENARIO names and exports what k6 runs', () => {
    expect(scripts).toEqual(['run.js']);
    const opened: string[] = [];
    const exported: string[] = [];
    walk(parseModule(path.join(K6_DIR, 'run.js')), (n) => {
      if (n.type === 'CallExpression' && n.callee.name === 'open') {
        const [arg] = n.arguments;
        opened.push(
          `${arg.quasis[0].value.cooked}<${arg.expressions[0].property.name}>${arg.quasis[1].value.cooked}`,
        );
      }
      if (n.type === 'ExportNamedDeclaration')
        for (const d of n.declaration?.declarations ?? []) exported.push(d.id.name);
      if (n.type === 'ExportDefaultDeclaration') exported.push('default');
    });
    expect(opened).toEqual(['../scenarios/<SCENARIO>.json']);
    expect(exported).toEqual(
      expect.arrayContaining(['options', 'setup', 'teardown', 'handleSummary', 'default']),
    );
    for (const name of listScenarios()) expect(makeScript(load(name)).options.scenarios[name]).toBeDefined();
  });

  it('imports the interpreter the Node runner uses, which k6 loads as a CommonJS module', () => {
    const imports: string[] = [];
    walk(
      parseModule(path.join(K6_DIR, 'lib', 'script.js')),
      (n) => n.type === 'ImportDeclaration' && imports.push(n.source.value),
    );
    expect(imports).toContain('../../lib/scenario.js');
    // k6 treats a file without import/export as CommonJS; its named exports are the keys of module.exports.
    const shared = acorn.parse(readFileSync(path.join(K6_DIR, '..', 'lib', 'scenario.js'), 'utf8'), {
      ecmaVersion: 'latest',
      sourceType: 'script',
    }) as Node;
    walk(shared, (n) =>
      expect(['ImportDeclaration', 'ExportNamedDeclaration', 'ExportDefaultDeclaration']).not.toContain(
        n.type,
      ),
    );
  });

  it('gives every scenario thresholds that k6 accepts, with the same stages', () => {
    const metrics = { ...BUILTIN, ...customMetrics() };
    expect(customMetrics()).toEqual({
      rate_limited: 'Rate',
      shed: 'Rate',
      rate_limited_requests: 'Counter',
      shed_requests: 'Counter',
      request_errors: 'Counter',
    });
    for (const name of listScenarios()) {
      const s = load(name);
      const options = k6Options(s, {});
      expect(k6Problems(options.thresholds, metrics)).toEqual([]);
      const exec = options.scenarios[name];
      if (s.iterations)
        expect(exec).toMatchObject({ executor: 'shared-iterations', iterations: s.iterations });
      else {
        const total = exec.stages.reduce(
          (a: number, st: { duration: string }) => a + parseDuration(st.duration),
          0,
        );
        expect(total).toBe(
          s.stages.reduce((a: number, st: { duration: string }) => a + parseDuration(st.duration), 0),
        );
      }
    }
  });

  it("keeps the seed's stages, maps failures to http_req_failed, and lists what k6 cannot check", () => {
    expect(k6Stages(stageWindows(load('verify-production').stages))).toEqual([
      { duration: '10000ms', target: 10 },
      { duration: '20000ms', target: 50 },
      { duration: '20000ms', target: 100 },
      { duration: '20000ms', target: 150 },
      { duration: '10000ms', target: 10 },
    ]);
    expect(k6Stages(stageWindows(load('capacity').stages)).slice(0, 2)).toEqual([
      { duration: '0s', target: 50 },
      { duration: '20000ms', target: 50 },
    ]);
    const { thresholds, skipped } = k6Thresholds(load('verify-production'));
    expect(thresholds['http_req_failed']).toEqual(['rate<=0']);
    expect(thresholds['rate_limited_requests']).toEqual(['count<=0']);
    expect(thresholds['http_req_duration{name:create_task}']).toBeUndefined(); // against the baseline, or info
    expect(skipped).toEqual(
      expect.arrayContaining([
        'p95_ms (against the baseline)',
        'p95_ms (info)',
        'efficiency (info)',
        'tasks.lost',
        'process.orchestrator.peak_rss_mb',
      ]),
    );
    expect(k6Thresholds(load('quick')).thresholds['http_req_duration{name:create_task}']).toEqual([
      'p(95)<=15',
    ]);
    expect(k6Thresholds(load('production')).thresholds['http_req_failed']).toEqual(['rate<=0.001']);
  });

  it('plays the mix like the Node runner: key per user, task ids followed, expected statuses, think time by outcome', () => {
    resetStub();
    let n = 0;
    respondWith((method) =>
      method === 'POST'
        ? ++n % 2
          ? { status: 202, body: { id: `task-${n}` } }
          : { status: 429 }
        : { status: 200, body: {} },
    );
    const script = makeScript(load('production'));
    for (let i = 0; i < 40; i++) script.run({ persona: 'p1' });
    const creates = recorded.requests.filter((r) => r.method === 'POST');
    expect(creates.length).toBeGreaterThan(0);
    expect(JSON.parse(creates[0].body as string).persona_id).toBe('p1');
    expect(creates[0].params.headers['Idempotency-Key']).toMatch(/^k6-\d+-1-\d+$/);
    expect(creates[0].params.responseCallback).toEqual({ expected: [202] });
    expect(recorded.requests.filter((r) => /\/v1\/tasks\/task-/.test(r.url)).length).toBeGreaterThan(0);
    expect(recorded.requests.every((r) => r.params.tags.stage && r.params.tags.name)).toBe(true);
    expect(recorded.sleeps).toContain(2);
    expect(recorded.metrics.some((m) => m.name === 'rate_limited' && m.value === true)).toBe(true);
    expect(recorded.metrics.some((m) => m.name === 'rate_limited_requests' && m.value === 1)).toBe(true);
  });

  it('writes JSON and Markdown from handleSummary into the working directory by default', () => {
    const data = {
      metrics: {
        http_reqs: { values: { count: 10, rate: 5 } },
        http_req_failed: { values: { rate: 0 }, thresholds: { 'rate<=0.01': { ok: true } } },
      },
    };
    const out = makeScript(load('quick')).handleSummary(data);
    expect(Object.keys(out).sort()).toEqual(['./k6-quick-summary.json', './k6-quick-summary.md', 'stdout']);
    expect(JSON.parse(out['./k6-quick-summary.json'])).toEqual(data);
    expect(out.stdout).toContain('| Total requests | 10 |');
    expect(out.stdout).toContain('| Success | 100.00% |');
    expect(summaryMarkdown(load('quick'), data)).toContain('| http_req_failed | rate<=0.01 | pass |');
  });
});
