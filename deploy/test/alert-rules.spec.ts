import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { byKind, find, renderOverlay, repoPath, type K8sObject } from './support/manifests';

/*
 * The alert rules (a PrometheusRule in k8s/components/service-monitor) and the Grafana dashboard
 * ConfigMap beside them. k8s.spec.ts validates both objects against their schemas with the rest of
 * the overlay; containers.e2e-spec.ts checks that every metric the rules read is exported. Here:
 * Prometheus' own promtool checks the rules and runs unit tests on synthetic series.
 */

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}
interface Group {
  name: string;
  rules: Rule[];
}

const prod = renderOverlay('prod');
const [prometheusRule] = byKind(prod, 'PrometheusRule');
const groups = (prometheusRule?.spec as { groups: Group[] } | undefined)?.groups ?? [];
const rules = groups.flatMap((g) => g.rules);

function promtoolPath(): string | null {
  try {
    return execFileSync('which', ['promtool'], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}
const promtool = promtoolPath();
// promtool comes with Debian's `prometheus` package (.ci/run installs it). Where it cannot be
// installed, its two checks are skipped; the structure checks below still run.
const withPromtool = promtool ? it : it.skip;
const skipNote = promtool ? '' : ' (skipped: promtool is not installed; apt-get install prometheus)';

function promtoolRun(args: string[], files: Record<string, string>): { status: number; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'alert-rules-'));
  try {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    const run = spawnSync(promtool!, args, { cwd: dir, encoding: 'utf8' });
    return { status: run.status ?? -1, output: `${run.stdout}${run.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('alert rules (PrometheusRule, prod overlay)', () => {
  it('alert on each signal operators need', () => {
    expect(rules.map((r) => r.alert).sort()).toEqual(
      [
        'AgentPlatformServerErrors', // 5xx ratio (503 apart)
        'AgentPlatformUnavailable', // 503 ratio
        'AgentPlatformRateLimited', // 429 ratio
        'AgentPlatformSlowSubmissions', // POST /v1/tasks p95
        'AgentPlatformQueueWaitHigh', // age of the oldest waiting job
        'AgentPlatformLlmBreakerOpen', // the breaker open
        'AgentPlatformRateLimiterDegraded', // the limiter failing open
        'AgentPlatformReconcilerRequeues', // reconciler re-queues
      ].sort(),
    );
  });

  it('every rule has a severity, a summary and a description, and reads only its app', () => {
    for (const rule of rules) {
      expect({ alert: rule.alert, severity: rule.labels.severity }).toEqual({
        alert: rule.alert,
        severity: expect.stringMatching(/^(critical|warning)$/),
      });
      expect(rule.annotations.summary?.length).toBeGreaterThan(10);
      expect(rule.annotations.description?.length).toBeGreaterThan(20);
      for (const selector of rule.expr.matchAll(/[a-z_:]+\{([^}]*)\}/g)) {
        expect({ alert: rule.alert, selector: selector[1] }).toEqual({
          alert: rule.alert,
          selector: expect.stringMatching(/app="(orchestrator|agent-worker)"/),
        });
      }
    }
  });

  withPromtool(`promtool check rules accepts them${skipNote}`, () => {
    const { status, output } = promtoolRun(['check', 'rules', 'rules.yml'], {
      'rules.yml': stringify({ groups }),
    });
    expect({ status, output }).toEqual({
      status: 0,
      output: expect.stringContaining(`${rules.length} rules found`),
    });
  });

  withPromtool(
    `promtool unit tests: each alert fires on its condition and stays quiet when healthy${skipNote}`,
    () => {
      // promtool compares annotations too; they are checked above and by `check rules` (templates).
      const bare = groups.map((g) => ({ ...g, rules: g.rules.map(({ annotations: _a, ...rule }) => rule) }));
      const http = (labels: string) => `http_request_duration_seconds_count{app="orchestrator",${labels}}`;
      const bucket = (le: string) =>
        `http_request_duration_seconds_bucket{app="orchestrator",method="POST",route="/v1/tasks",status_code="202",le="${le}"}`;
      const fires = (alertname: string, evalTime: string, labels: Record<string, string> = {}) => ({
        eval_time: evalTime,
        alertname,
        exp_alerts: [
          { exp_labels: { severity: rules.find((r) => r.alert === alertname)!.labels.severity, ...labels } },
        ],
      });
      const quiet = (alertname: string, evalTime: string) => ({
        eval_time: evalTime,
        alertname,
        exp_alerts: [],
      });
      const tests = [
        {
          name: 'failing API: 10% of responses 500, 10% 503, 20% 429, slow POSTs',
          interval: '1m',
          input_series: [
            { series: http('status_code="200"'), values: '0+360x30' }, // 6/s
            { series: http('status_code="500"'), values: '0+60x30' }, // 1/s
            { series: http('status_code="503"'), values: '0+60x30' }, // 1/s
            { series: http('status_code="429"'), values: '0+120x30' }, // 2/s
            { series: bucket('0.1'), values: '0+0x30' },
            { series: bucket('0.25'), values: '0+60x30' },
            { series: bucket('+Inf'), values: '0+60x30' },
          ],
          alert_rule_test: [
            fires('AgentPlatformServerErrors', '10m'),
            fires('AgentPlatformUnavailable', '10m'),
            fires('AgentPlatformRateLimited', '20m'),
            fires('AgentPlatformSlowSubmissions', '20m'),
          ],
        },
        {
          name: 'healthy API: 503s alone are not server errors, fast POSTs, a trickle of traffic is ignored',
          interval: '1m',
          input_series: [
            { series: http('status_code="200"'), values: '0+600x30' },
            { series: http('status_code="503"'), values: '0+6x30' }, // 1%
            { series: bucket('0.05'), values: '0+60x30' },
            { series: bucket('0.1'), values: '0+60x30' },
            { series: bucket('+Inf'), values: '0+60x30' },
          ],
          alert_rule_test: [
            quiet('AgentPlatformServerErrors', '20m'),
            quiet('AgentPlatformUnavailable', '20m'),
            quiet('AgentPlatformRateLimited', '20m'),
            quiet('AgentPlatformSlowSubmissions', '20m'),
          ],
        },
        {
          name: 'a trickle of failing traffic does not page',
          interval: '1m',
          input_series: [{ series: http('status_code="500"'), values: '0+6x30' }], // 0.1/s
          alert_rule_test: [quiet('AgentPlatformServerErrors', '20m')],
        },
        {
          name: 'processing: queue wait, breaker, limiter, reconciler',
          interval: '1m',
          input_series: [
            {
              series: 'queue_oldest_waiting_job_age_seconds{app="orchestrator",queue="agent-tasks"}',
              values: '0+60x20',
            },
            {
              series: 'circuit_breaker_state{app="agent-worker",breaker="llm"}',
              values: '0 0 2 1 2 2 1 2 2 2 2 2',
            },
            { series: 'rate_limiter_storage_errors_total{app="orchestrator"}', values: '0+30x20' },
            {
              series: 'reconciler_requeued_total{app="orchestrator",status="running"}',
              values: '0 0 0 2 2 2',
            },
          ],
          alert_rule_test: [
            quiet('AgentPlatformQueueWaitHigh', '3m'),
            fires('AgentPlatformQueueWaitHigh', '10m'),
            fires('AgentPlatformLlmBreakerOpen', '8m', { breaker: 'llm' }),
            fires('AgentPlatformRateLimiterDegraded', '10m'),
            quiet('AgentPlatformReconcilerRequeues', '2m'),
            fires('AgentPlatformReconcilerRequeues', '5m', { status: 'running' }),
          ],
        },
        {
          name: 'processing, healthy: short queue wait, breaker closed, limiter fine, nothing re-queued',
          interval: '1m',
          input_series: [
            {
              series: 'queue_oldest_waiting_job_age_seconds{app="orchestrator",queue="agent-tasks"}',
              values: '3x20',
            },
            { series: 'circuit_breaker_state{app="agent-worker",breaker="llm"}', values: '0x20' },
            { series: 'rate_limiter_storage_errors_total{app="orchestrator"}', values: '7x20' },
            { series: 'reconciler_requeued_total{app="orchestrator",status="queued"}', values: '4x20' },
          ],
          alert_rule_test: [
            quiet('AgentPlatformQueueWaitHigh', '15m'),
            quiet('AgentPlatformLlmBreakerOpen', '15m'),
            quiet('AgentPlatformRateLimiterDegraded', '15m'),
            quiet('AgentPlatformReconcilerRequeues', '15m'),
          ],
        },
      ];
      const { status, output } = promtoolRun(['test', 'rules', 'tests.yml'], {
        'rules.yml': stringify({ groups: bare }),
        'tests.yml': stringify({ rule_files: ['rules.yml'], evaluation_interval: '1m', tests }),
      });
      expect({ status, output }).toEqual({ status: 0, output: expect.stringContaining('SUCCESS') });
      // Every alert is exercised both ways.
      const exercised = tests.flatMap((t) =>
        t.alert_rule_test.map((a) => `${a.alertname}:${a.exp_alerts.length > 0}`),
      );
      for (const rule of rules) {
        expect(exercised).toEqual(expect.arrayContaining([`${rule.alert}:true`, `${rule.alert}:false`]));
      }
    },
  );
});

describe('Grafana dashboard ConfigMap (for the Grafana sidecar)', () => {
  const configMap = find(prod, 'ConfigMap', 'agent-platform-grafana-dashboard') as K8sObject;

  it('carries the dashboard of deploy/grafana under the sidecar label grafana_dashboard', () => {
    expect(configMap.metadata.labels).toMatchObject({ grafana_dashboard: '1' });
    const data = configMap.data as Record<string, string>;
    expect(Object.keys(data)).toEqual(['agent-platform.json']);
    const source = readFileSync(repoPath('deploy', 'grafana', 'dashboards', 'agent-platform.json'), 'utf8');
    expect(JSON.parse(data['agent-platform.json'])).toEqual(JSON.parse(source));
  });

  it("the component's copy of the dashboard is current (npm run k8s:render refreshes it)", () => {
    expect(
      readFileSync(repoPath('k8s', 'components', 'service-monitor', 'grafana-dashboard.json'), 'utf8'),
    ).toBe(readFileSync(repoPath('deploy', 'grafana', 'dashboards', 'agent-platform.json'), 'utf8'));
  });
});
