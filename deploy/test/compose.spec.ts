import Ajv from 'ajv';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import {
  composeAppServices,
  composeEnv,
  interpolate,
  loadCompose,
  loadComposeUninterpolated,
  parseDockerfile,
  readRepoFile,
  repoFileExists,
  repoPath,
  type ComposeService,
} from './support/manifests';
import { loadConfig } from '@app/platform';
import { composeK6Script, METRICS_PORT_VAR } from './support/contract';

/*
 * docker-compose.yml against the Compose Specification's JSON schema (the copy the maintained
 * `dclint` linter ships and validates with), and the properties a local full stack needs (health-gated
 * start order, migrations before the apps, read-only containers, monitoring).
 * Variables, URLs and ports are cross-checked against the apps in config.spec.ts.
 */

function composeSpecValidator() {
  const schemaFile = join(dirname(require.resolve('dclint/package.json')), 'schemas', 'compose.schema.json');
  const { $schema, ...schema } = JSON.parse(readFileSync(schemaFile, 'utf8'));
  // The file names draft-07 by its https URI, which Ajv does not know by that spelling; Ajv's default
  // dialect is draft-07 anyway. strict: false because the spec uses annotations draft-07 does not
  // define ("deprecated").
  expect($schema).toMatch(/draft-07/);
  return new Ajv({ allErrors: true, strict: false }).compile(schema);
}

const compose = loadCompose();
const dockerStages = parseDockerfile();
const services = compose.services;
const conditionsOf = (service: ComposeService): Record<string, string> =>
  Array.isArray(service.depends_on)
    ? Object.fromEntries(service.depends_on.map((name) => [name, 'service_started']))
    : Object.fromEntries(Object.entries(service.depends_on ?? {}).map(([name, d]) => [name, d.condition]));
const hasHealthcheck = (name: string): boolean =>
  !!services[name].healthcheck || !!dockerStages.get(services[name].build?.target ?? '')?.healthcheck;

describe('docker-compose.yml', () => {
  const validate = composeSpecValidator();

  it('is valid against the Compose Specification schema, as written and after interpolation', () => {
    for (const document of [loadComposeUninterpolated(), compose]) {
      const valid = validate(document);
      expect(validate.errors ?? []).toEqual([]);
      expect(valid).toBe(true);
    }
  });

  it('the schema check catches what it should (a misspelled key, a wrong type)', () => {
    const broken = parse(interpolate(readRepoFile('docker-compose.yml')), { merge: true });
    broken.services.orchestrator.depend_on = broken.services.orchestrator.depends_on;
    broken.services.redis.volumes = 'redisdata:/data';
    expect(validate(broken)).toBe(false);
    const messages = JSON.stringify(validate.errors);
    expect(messages).toContain('depend_on');
    expect(messages).toContain('/services/redis/volumes');
  });

  it("has the stack's services, and the profiles add only load testing and monitoring", () => {
    const byProfile = (profile?: string) =>
      Object.entries(services)
        .filter(([, s]) => (profile ? s.profiles?.includes(profile) : !s.profiles))
        .map(([name]) => name)
        .sort();
    expect(byProfile()).toEqual(['agent-worker', 'llm-sim', 'migrate', 'orchestrator', 'postgres', 'redis']);
    expect(byProfile('loadtest')).toEqual(['k6']);
    expect(byProfile('monitoring')).toEqual(['grafana', 'prometheus']);
  });

  it('postgres has a healthcheck and a named volume; redis persists with AOF every second and never evicts', () => {
    const volumeNames = Object.keys(compose.volumes ?? {});
    for (const name of ['postgres', 'redis']) {
      expect(services[name].healthcheck).toBeDefined();
      const volume = (services[name].volumes ?? [])[0]?.split(':')[0];
      expect(volumeNames).toContain(volume);
    }
    const redisArgs = (services.redis.command as string[]).join(' ');
    expect(redisArgs).toContain('--appendonly yes');
    expect(redisArgs).toContain('--appendfsync everysec');
    expect(redisArgs).toContain('--maxmemory-policy noeviction');
  });

  it('app services are built from Dockerfile targets, named like the k8s images, and use the target command', () => {
    const apps = composeAppServices(compose);
    expect(apps.map((a) => a.target).sort()).toEqual(['agent-worker', 'llm-sim', 'migrate', 'orchestrator']);
    for (const { name, service, target } of apps) {
      expect(dockerStages.has(target)).toBe(true);
      expect({ name, image: service.image?.split(':')[0], command: service.command }).toEqual({
        name,
        image: `agent-platform-${target}`,
        command: undefined,
      });
    }
    expect(services.migrate.restart).toBe('no');
  });

  it('every app service (and k6) starts only once its dependencies are healthy, or migrated', () => {
    for (const name of [...composeAppServices(compose).map((a) => a.name), 'k6']) {
      for (const [dependency, condition] of Object.entries(conditionsOf(services[name]))) {
        const ok =
          (condition === 'service_healthy' && hasHealthcheck(dependency)) ||
          (condition === 'service_completed_successfully' && services[dependency].restart === 'no');
        expect({ service: name, dependency, condition, ok }).toEqual({
          service: name,
          dependency,
          condition,
          ok: true,
        });
      }
    }
    for (const name of ['orchestrator', 'agent-worker']) {
      expect(conditionsOf(services[name])).toMatchObject({
        postgres: 'service_healthy',
        redis: 'service_healthy',
        migrate: 'service_completed_successfully',
      });
    }
  });

  it('agent-worker scales (`--scale agent-worker=3`): no container name and no fixed host port', () => {
    expect(services['agent-worker'].container_name).toBeUndefined();
    expect(services['agent-worker'].ports).toBeUndefined();
  });

  it('app containers are read-only, without new privileges, and stop after a grace longer than their drain', () => {
    for (const { name, service } of composeAppServices(compose)) {
      const raw = service as ComposeService & { read_only?: boolean; security_opt?: string[] };
      expect({ name, readOnly: raw.read_only, securityOpt: raw.security_opt }).toEqual({
        name,
        readOnly: true,
        securityOpt: ['no-new-privileges:true'],
      });
      expect(service.stop_grace_period).toMatch(/^\d+s$/);
    }
  });

  it('k6 (profile loadtest) runs a script from load-tests/k6 against the orchestrator and writes to a mounted results folder', () => {
    const k6 = services.k6;
    expect(k6.volumes).toEqual(
      expect.arrayContaining(['./load-tests:/load-tests:ro', './load-tests/results:/results']),
    );
    expect(k6.working_dir).toBe('/results');
    expect((k6.command as string[]).some((arg) => arg.startsWith('/load-tests/k6/'))).toBe(true);
    expect(new URL(String(k6.environment?.TARGET)).hostname).toBe('orchestrator');
    // The results folder is not committed.
    expect(readRepoFile('.gitignore')).toMatch(/^load-tests\/results\/$/m);
  });

  it('the k6 scripts read every variable the k6 service passes', () => {
    const script = composeK6Script();
    expect(repoFileExists(script)).toBe(true);
    const k6Dir = dirname(script);
    const sources = readdirSync(repoPath(k6Dir), { recursive: true, encoding: 'utf8' })
      .filter((f) => /\.(js|mjs|ts)$/.test(f) && !f.endsWith('.spec.ts'))
      .map((f) => readRepoFile(k6Dir, f))
      .join('\n');
    for (const name of Object.keys(services.k6.environment ?? {})) {
      expect({
        name,
        read: new RegExp(`(__ENV|\\benv)(\\.${name}\\b|\\[['"]${name}['"]\\])`).test(sources),
      }).toEqual({
        name,
        read: true,
      });
    }
  });

  it('Prometheus (profile monitoring) scrapes every app that serves /metrics, on its metrics port (the orchestrator: its internal port, never the API port)', () => {
    const prometheus = parse(readRepoFile('deploy', 'prometheus', 'prometheus.yml'));
    const mounted = (services.prometheus.volumes ?? []).map((v) => v.split(':')[0]);
    expect(mounted).toContain('./deploy/prometheus/prometheus.yml');
    const scraped = new Map<string, { path: string; port: number }>();
    for (const job of prometheus.scrape_configs) {
      for (const target of job.static_configs?.flatMap((c: { targets: string[] }) => c.targets) ?? []) {
        const [host, port] = target.split(':');
        scraped.set(host, { path: job.metrics_path, port: Number(port) });
      }
      for (const sd of job.dns_sd_configs ?? []) {
        for (const host of sd.names) scraped.set(host, { path: job.metrics_path, port: sd.port });
      }
    }
    // The apps that serve metrics: the two whose images the k8s ServiceMonitor also scrapes.
    for (const name of ['orchestrator', 'agent-worker']) {
      const env = composeEnv(services[name]);
      const port = loadConfig(env)[METRICS_PORT_VAR[services[name].build!.target!]];
      expect(port).toEqual(expect.any(Number));
      expect({ name, ...scraped.get(name) }).toEqual({ name, path: '/metrics', port });
    }
    const orchestrator = loadConfig(composeEnv(services.orchestrator));
    expect(orchestrator.ORCHESTRATOR_INTERNAL_PORT).not.toBe(orchestrator.ORCHESTRATOR_PORT);
    // Published to the host: the API port only.
    expect((services.orchestrator.ports ?? []).map((p) => Number(p.split(':').pop()))).toEqual([
      orchestrator.ORCHESTRATOR_PORT,
    ]);
  });

  it('Grafana (profile monitoring) gets the Prometheus datasource and the dashboard provisioned', () => {
    const mounts = new Map(
      (services.grafana.volumes ?? []).map((v) => v.split(':').slice(0, 2) as [string, string]),
    );
    expect(mounts.get('./deploy/grafana/provisioning')).toBe('/etc/grafana/provisioning');
    const datasource = parse(
      readRepoFile('deploy', 'grafana', 'provisioning', 'datasources', 'prometheus.yml'),
    );
    expect(datasource.datasources[0]).toMatchObject({
      type: 'prometheus',
      url: 'http://prometheus:9090',
      uid: 'prometheus',
    });
    const provider = parse(
      readRepoFile('deploy', 'grafana', 'provisioning', 'dashboards', 'agent-platform.yml'),
    );
    const dashboardsPath = provider.providers[0].options.path;
    const hostDir = [...mounts].find(([, inContainer]) => inContainer === dashboardsPath)?.[0];
    expect(hostDir).toBe('./deploy/grafana/dashboards');
    expect(repoFileExists('deploy', 'grafana', 'dashboards', 'agent-platform.json')).toBe(true);
  });

  it('the Grafana dashboard has the panels operators need, all on its ${datasource} variable', () => {
    const dashboard = JSON.parse(readRepoFile('deploy', 'grafana', 'dashboards', 'agent-platform.json'));
    const panels = dashboard.panels.filter((p: { type: string }) => p.type !== 'row');
    const titles = panels.map((p: { title: string }) => p.title.toLowerCase()).join(' | ');
    for (const topic of ['latency', 'throughput', '429', '503', 'queue depth', 'breaker', 'database pool']) {
      expect(titles).toContain(topic);
    }
    // A datasource variable (default: Grafana's default Prometheus, the provisioned one here), so the
    // same JSON works in any Grafana, e.g. loaded by the sidecar from the k8s ConfigMap.
    expect(dashboard.templating.list).toContainEqual(
      expect.objectContaining({ name: 'datasource', type: 'datasource', query: 'prometheus' }),
    );
    const onVariable = { type: 'prometheus', uid: '${datasource}' };
    for (const panel of panels) {
      expect(panel.datasource).toEqual(onVariable);
      expect(panel.targets.length).toBeGreaterThan(0);
      for (const target of panel.targets) expect(target.datasource).toEqual(onVariable);
    }
  });
});
