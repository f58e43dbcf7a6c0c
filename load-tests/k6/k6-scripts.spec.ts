import * as acorn from 'acorn';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { recorded, resetStub, respondWith } from '../test/k6-stub';
import { listScenarios, scenarioPath } from '../runner/scenario';
// The k6 modules are ES modules for k6; jest compiles them (see jest.config.js) with k6's built-ins stubbed.
import {
  k6Options,
  k6Stages,
  k6Thresholds,
  parseDuration,
  stageWindows,
  summaryMarkdown,
  thinkSeconds,
} from './lib/scenario.js';
import { makeScript } from './lib/script.js';

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

describe('k6 scripts', () => {
  const scripts = readdirSync(K6_DIR).filter((f) => f.endsWith('.js'));

  it('has one script per scenario, each a valid ES module that opens its own scenario file', () => {
    expect(scripts.map((f) => f.replace(/\.js$/, '')).sort()).toEqual(listScenarios());
    for (const file of scripts) {
      const source = readFileSync(path.join(K6_DIR, file), 'utf8');
      const ast = acorn.parse(source, { ecmaVersion: 'latest', sourceType: 'module' }) as Node;
      const opened: string[] = [];
      const exported: string[] = [];
      walk(ast, (n) => {
        if (n.type === 'CallExpression' && n.callee.type === 'Identifier' && n.callee.name === 'open')
          opened.push(n.arguments[0].value);
        if (n.type === 'ExportNamedDeclaration')
          for (const d of n.declaration?.declarations ?? []) exported.push(d.id.name);
        if (n.type === 'ExportDefaultDeclaration') exported.push('default');
      });
      expect(opened).toEqual([`../scenarios/${file.replace(/\.js$/, '')}.json`]);
      for (const p of opened) expect(readFileSync(path.resolve(K6_DIR, p), 'utf8')).toContain('"name"');
      expect(exported).toEqual(
        expect.arrayContaining(['options', 'setup', 'teardown', 'handleSummary', 'default']),
      );
    }
  });

  it('parses the shared libraries as ES modules', () => {
    for (const file of readdirSync(path.join(K6_DIR, 'lib')).filter((f) => f.endsWith('.js'))) {
      expect(() =>
        acorn.parse(readFileSync(path.join(K6_DIR, 'lib', file), 'utf8'), {
          ecmaVersion: 'latest',
          sourceType: 'module',
        }),
      ).not.toThrow();
    }
  });

  it('maps every scenario to k6 options with the same stages and thresholds', () => {
    for (const name of listScenarios()) {
      const s = load(name);
      const options = k6Options(s, {});
      const exec = options.scenarios[name];
      expect(exec.executor).toBe('ramping-vus');
      const total = exec.stages.reduce(
        (a: number, st: { duration: string }) => a + parseDuration(st.duration),
        0,
      );
      const planned = s.stages.reduce(
        (a: number, st: { duration: string }) => a + parseDuration(st.duration),
        0,
      );
      expect(total).toBe(planned);
      for (const [metric, exprs] of Object.entries(options.thresholds)) {
        expect(metric).toMatch(
          /^(http_req_duration|request_success|rate_limited|shed|request_errors|http_reqs)\{[^}]+\}$/,
        );
        for (const e of exprs as string[])
          expect(e).toMatch(/^(med|avg|max|p\(\d+\)|rate|count|passes)(<=|>=)-?\d+(\.\d+)?$/);
      }
    }
  });

  it("keeps the seed's stages, turns step stages into instant jumps, and lists what k6 cannot check", () => {
    expect(k6Stages(stageWindows(load('verify-production'), {}))).toEqual([
      { duration: '10000ms', target: 10 },
      { duration: '20000ms', target: 50 },
      { duration: '20000ms', target: 100 },
      { duration: '20000ms', target: 150 },
      { duration: '10000ms', target: 10 },
    ]);
    expect(k6Stages(stageWindows(load('capacity'), {})).slice(0, 2)).toEqual([
      { duration: '0s', target: 50 },
      { duration: '20000ms', target: 50 },
    ]);
    expect(stageWindows(load('soak'), { SOAK_DURATION: '2h' })[1].durationMs).toBe(7_200_000);
    const { thresholds, skipped } = k6Thresholds(load('verify-production'));
    expect(thresholds['http_req_duration{name:create_task}']).toEqual(['p(95)<=15']);
    expect(thresholds['request_success{longpoll:no}']).toEqual(['rate>=1']);
    expect(skipped).toEqual(
      expect.arrayContaining(['efficiency', 'tasks.lost', 'process.orchestrator.peak_rss_mb']),
    );
  });

  it('plays the mix like the Node runner: key per user, task ids followed, think time by outcome', () => {
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
    const gets = recorded.requests.filter((r) => /\/v1\/tasks\/task-/.test(r.url));
    expect(gets.length).toBeGreaterThan(0);
    expect(recorded.requests.every((r) => r.params.tags.stage && r.params.tags.name)).toBe(true);
    expect(recorded.sleeps).toContain(2);
    expect(recorded.metrics.some((m) => m.name === 'rate_limited' && m.value === true)).toBe(true);
    expect(thinkSeconds({ success: 0.1, '429': 2, other: 0.5 }, false, 503, Math.random)).toBe(0.5);
  });

  it('writes JSON and Markdown from handleSummary', () => {
    const script = makeScript(load('quick'));
    const data = {
      metrics: {
        http_reqs: { values: { count: 10, rate: 5 } },
        request_success: { values: { rate: 1 }, thresholds: { 'rate>=0.99': { ok: true } } },
      },
    };
    const out = script.handleSummary(data);
    expect(Object.keys(out).sort()).toEqual([
      'load-tests/results/k6-quick/k6-summary.json',
      'load-tests/results/k6-quick/k6-summary.md',
      'stdout',
    ]);
    expect(JSON.parse(out['load-tests/results/k6-quick/k6-summary.json'])).toEqual(data);
    expect(out.stdout).toContain('| Total requests | 10 |');
    expect(summaryMarkdown(load('quick'), data)).toContain('| request_success | rate>=0.99 | pass |');
  });
});
