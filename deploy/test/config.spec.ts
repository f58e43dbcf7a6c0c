import { loadConfig, TASK_QUEUE, type AppEnv } from '@app/platform';
import Bull from 'bull';
import { orchestratorConfigProblems } from '../../apps/orchestrator/src/orchestrator-config';
import {
  envNamesSetByDeployment,
  inSchema,
  METRICS_PORT_VAR,
  requiredInContainer,
  schemaDefault,
  shutdownBudgetMs,
} from './support/contract';
import {
  byKind,
  composeAppServices,
  composeEnv,
  containerEnv,
  containerEnvNames,
  dataOf,
  find,
  healthcheckUrl,
  loadCompose,
  OVERLAYS,
  parseDockerfile,
  prodSecretTemplate,
  readRepoFile,
  renderOverlay,
  targetOfImage,
  workloads,
  type K8sObject,
  type Overlay,
  type Workload,
} from './support/manifests';

/*
 * Cross-checks that keep docker-compose.yml, the k8s overlays and the Dockerfile honest about the
 * code: variable names and values against the env schema, ports against what each app is configured
 * to listen on, the KEDA list against Bull's key, connection pools against max_connections.
 * (That the apps really listen there and serve those routes is checked by containers.e2e-spec.ts.)
 */

const compose = loadCompose();
const composeApps = composeAppServices(compose);
const dockerStages = parseDockerfile();
const extraSecrets = (overlay: Overlay): K8sObject[] => (overlay === 'prod' ? [prodSecretTemplate()] : []);

interface AppContainer {
  where: string;
  target: string;
  env: Record<string, string>;
  names: string[];
  workload?: Workload;
  overlay?: Overlay;
}

/** Every container running one of our images, with the environment it gets. */
function appContainers(): AppContainer[] {
  const found: AppContainer[] = composeApps.map(({ name, service, target }) => ({
    where: `compose ${name}`,
    target,
    env: composeEnv(service),
    names: Object.keys(composeEnv(service)),
  }));
  for (const overlay of OVERLAYS) {
    const objects = renderOverlay(overlay);
    for (const workload of workloads(objects)) {
      for (const container of workload.pod.containers.filter((c) => targetOfImage(c.image))) {
        found.push({
          where: `k8s ${overlay} ${workload.object.kind}/${workload.object.metadata.name}`,
          target: targetOfImage(container.image)!,
          env: containerEnv(container, objects, extraSecrets(overlay)).values,
          names: containerEnvNames(container, objects),
          workload,
          overlay,
        });
      }
    }
  }
  return found;
}

/** The port variable and path of a target's Dockerfile HEALTHCHECK (the port the app listens on). */
const healthcheckOf = (target: string) => healthcheckUrl(dockerStages.get(target)?.healthcheck ?? '');

/** The port an app listens on with this environment, as its own config would compute it. */
function listenPort(target: string, env: Record<string, string>): number | undefined {
  const check = healthcheckOf(target);
  if (!check) return undefined;
  if (!inSchema(check.portVar)) return Number(env[check.portVar] ?? check.portDefault);
  return Number(loadConfig(env)[check.portVar]);
}

describe('configuration cross-checks', () => {
  const containers = appContainers();

  it('every variable compose and k8s set for our containers is a variable of the env schema', () => {
    const found = envNamesSetByDeployment();
    const verified = found.filter((f) => inSchema(f.name));
    const unknown = found.filter((f) => !inSchema(f.name));
    expect(unknown).toEqual([]);
    // Something was really checked: DATABASE_URL at least, once per container.
    expect(verified.filter((f) => f.name === 'DATABASE_URL').length).toBe(containers.length);
  });

  it('every variable a container cannot run without is set (no default, or a default on loopback)', () => {
    const required = requiredInContainer();
    expect(required).toEqual(expect.arrayContaining(['DATABASE_URL', 'REDIS_URL']));
    const unset = containers.flatMap((c) =>
      required.filter((key) => !c.names.includes(key)).map((key) => `${c.where}: ${key}`),
    );
    expect(unset).toEqual([]);
  });

  it('each container configuration passes the schema the app validates at boot', () => {
    const problems = containers.flatMap((c) => {
      try {
        loadConfig(c.env);
        return [];
      } catch (err) {
        return [`${c.where}: ${(err as Error).message}`];
      }
    });
    expect(problems).toEqual([]);
    // The k8s apps run as production; compose as development (no API keys needed on a laptop).
    for (const c of containers.filter((c) => c.where.startsWith('k8s prod'))) {
      expect(loadConfig(c.env).NODE_ENV).toBe('production');
    }
  });

  it("every orchestrator configuration passes the orchestrator's own boot checks (production: API keys, a webhook secret while callbacks are accepted)", () => {
    const orchestrators = containers.filter((c) => c.target === 'orchestrator');
    expect(orchestrators.length).toBeGreaterThanOrEqual(3); // compose, k8s dev, k8s prod
    const problems = orchestrators.flatMap((c) =>
      orchestratorConfigProblems(loadConfig(c.env)).map((p) => `${c.where}: ${p}`),
    );
    expect(problems).toEqual([]);
    const prod = orchestrators.find((c) => c.overlay === 'prod')!;
    expect(loadConfig(prod.env)).toMatchObject({ NODE_ENV: 'production', WEBHOOKS_ENABLED: true });
  });

  it('compose: every URL points at a service of the file, with the credentials and database it creates', () => {
    const postgres = composeEnv(compose.services.postgres);
    for (const { name, service } of composeApps) {
      for (const [key, value] of Object.entries(composeEnv(service))) {
        if (!/^[a-z]+:\/\//.test(value)) continue;
        const url = new URL(value);
        expect({ service: name, key, host: url.hostname in compose.services }).toEqual({
          service: name,
          key,
          host: true,
        });
        const target = compose.services[url.hostname].build?.target;
        if (target)
          expect(Number(url.port)).toBe(listenPort(target, composeEnv(compose.services[url.hostname])));
      }
      const db = new URL(composeEnv(service).DATABASE_URL);
      expect([db.hostname, db.password, db.pathname]).toEqual([
        'postgres',
        postgres.POSTGRES_PASSWORD,
        `/${postgres.POSTGRES_DB}`,
      ]);
    }
  });

  it('k8s dev: DATABASE_URL and REDIS_URL point at the in-cluster Services, with the password Postgres gets', () => {
    const objects = renderOverlay('dev');
    const postgres = workloads(objects).find((w) => w.object.metadata.name === 'postgres')!;
    const postgresEnv = containerEnv(postgres.pod.containers[0], objects).values;
    for (const c of containers.filter((c) => c.overlay === 'dev')) {
      for (const key of ['DATABASE_URL', 'REDIS_URL'] as const) {
        const url = new URL(c.env[key]);
        const service = find(objects, 'Service', url.hostname);
        expect({ where: c.where, key, service: service?.metadata.name }).toEqual({
          where: c.where,
          key,
          service: url.hostname,
        });
        expect((service!.spec as { ports: { port: number }[] }).ports.map((p) => p.port)).toContain(
          Number(url.port),
        );
      }
      const db = new URL(c.env.DATABASE_URL);
      expect([db.password, db.pathname]).toEqual([
        postgresEnv.POSTGRES_PASSWORD,
        `/${postgresEnv.POSTGRES_DB}`,
      ]);
    }
  });

  it('ports: Dockerfile EXPOSE and HEALTHCHECK, compose and k8s all use the port the app is configured to listen on', () => {
    for (const [target, stage] of dockerStages) {
      const check = healthcheckOf(target);
      if (!check) continue;
      if (inSchema(check.portVar)) expect(check.portDefault).toBe(schemaDefault(check.portVar));
      expect(stage.expose).toEqual([check.portDefault]);
    }
    for (const c of containers) {
      const port = listenPort(c.target, c.env);
      if (port === undefined) continue; // migrate serves nothing
      if (c.workload) {
        const ports = c.workload.pod.containers[0].ports ?? [];
        // The app's port, and its metrics port where that is another one (the orchestrator's internal port).
        const metricsVar = METRICS_PORT_VAR[c.target];
        const metricsPort = metricsVar ? loadConfig(c.env)[metricsVar] : undefined;
        const listening = [...new Set([port, ...(metricsPort === undefined ? [] : [metricsPort])])];
        expect({ where: c.where, ports: ports.map((p) => p.containerPort) }).toEqual({
          where: c.where,
          ports: listening,
        });
      } else {
        const service = compose.services[c.where.replace('compose ', '')];
        for (const mapping of service.ports ?? []) expect(Number(mapping.split(':').pop())).toBe(port);
      }
    }
  });

  it('readiness answers within the probe timeouts (HEALTH_CHECK_TIMEOUT_MS < probe and HEALTHCHECK timeouts)', () => {
    for (const c of containers.filter((c) => c.workload?.object.kind === 'Deployment')) {
      const { HEALTH_CHECK_TIMEOUT_MS } = loadConfig(c.env);
      const probe = c.workload!.pod.containers[0].readinessProbe!;
      expect(probe.timeoutSeconds! * 1000).toBeGreaterThan(HEALTH_CHECK_TIMEOUT_MS);
    }
    for (const { service, target } of composeApps) {
      const timeout = dockerStages.get(target)!.healthcheckOptions?.timeout;
      if (timeout === undefined) continue;
      expect(timeout * 1000).toBeGreaterThan(loadConfig(composeEnv(service)).HEALTH_CHECK_TIMEOUT_MS);
    }
  });

  it("compose: stop_grace_period is longer than each app's graceful shutdown budget", () => {
    for (const { name, service } of composeApps) {
      const graceMs = Number(/^(\d+)s$/.exec(service.stop_grace_period ?? '10s')![1]) * 1000;
      const budget = shutdownBudgetMs(service.build?.target ?? name, loadConfig(composeEnv(service)));
      expect({ service: name, enough: graceMs >= budget + 10_000 }).toEqual({ service: name, enough: true });
    }
  });

  it("prod KEDA watches the Bull wait list of the configured queue, in REDIS_URL's database, with its TLS setting", () => {
    const objects = renderOverlay('prod');
    const [scaledObject] = byKind(objects, 'ScaledObject');
    const trigger = (scaledObject.spec as { triggers: { metadata: Record<string, string> }[] }).triggers[0]
      .metadata;
    const worker = containers.find((c) => c.where === 'k8s prod Deployment/agent-worker')!;
    const env = loadConfig(worker.env);
    // Bull's own key function, with the prefix and queue name the worker uses.
    const queueLike = { keyPrefix: env.QUEUE_PREFIX, name: TASK_QUEUE } as unknown as Bull.Queue;
    const waitList = Bull.prototype.toKey.call(queueLike, 'wait');
    expect(trigger.listName).toBe(waitList);
    const redis = new URL(env.REDIS_URL);
    expect(trigger.databaseIndex).toBe(redis.pathname.replace('/', '') || '0');
    expect(trigger.enableTLS).toBe(String(redis.protocol === 'rediss:'));
    expect(dataOf(prodSecretTemplate())['keda-redis-address']).toBe(
      `${redis.hostname}:${redis.port || 6379}`,
    );
  });

  it('prod Secret template: holds only placeholders, and every key is read by an app or by KEDA', () => {
    const template = dataOf(prodSecretTemplate());
    const objects = renderOverlay('prod');
    const readByApps = new Set(
      workloads(objects).flatMap((w) =>
        w.pod.containers.flatMap((c) =>
          (c.env ?? []).map((e) => e.valueFrom?.secretKeyRef?.key).filter(Boolean),
        ),
      ),
    );
    const readByKeda = new Set(
      byKind(objects, 'TriggerAuthentication').flatMap((a) =>
        (a.spec as { secretTargetRef: { key: string }[] }).secretTargetRef.map((r) => r.key),
      ),
    );
    for (const key of Object.keys(template)) {
      expect({ key, read: readByApps.has(key) || readByKeda.has(key) }).toEqual({ key, read: true });
      if (readByApps.has(key)) expect(inSchema(key)).toBe(true);
    }
    for (const url of [template.DATABASE_URL, template.REDIS_URL])
      expect(new URL(url).password).toBe('CHANGE_ME');
    expect([template.LLM_API_KEY, template['keda-redis-password']]).toEqual(['CHANGE_ME', 'CHANGE_ME']);
  });
});

// ---------------------------------------------------------------------------------------------------
// Connection arithmetic

interface PoolLine {
  name: string;
  kind: string;
  pods: string;
  maxPods: number;
  pool: number;
}

/** Pods a workload can have at once: autoscaler max (or replicas) plus the rolling-update surge. */
function poolLines(overlay: Overlay): PoolLine[] {
  const objects = renderOverlay(overlay);
  return containersOf(overlay).map(({ workload, env }) => {
    const { object } = workload;
    const pool = env.DB_POOL_MAX;
    if (object.kind === 'Job') {
      const parallelism = (object.spec as { parallelism?: number }).parallelism ?? 1;
      return { name: object.metadata.name, kind: 'Job', pods: `${parallelism}`, maxPods: parallelism, pool };
    }
    const name = object.metadata.name;
    const hpa = byKind(objects, 'HorizontalPodAutoscaler').find(
      (h) => (h.spec as any).scaleTargetRef.name === name,
    );
    const keda = byKind(objects, 'ScaledObject').find((s) => (s.spec as any).scaleTargetRef.name === name);
    const [max, by] = hpa
      ? [(hpa.spec as any).maxReplicas, 'HPA max']
      : [(keda!.spec as any).maxReplicaCount, 'KEDA max'];
    const surgeSpec = (object.spec as any).strategy?.rollingUpdate?.maxSurge ?? '25%';
    const surge =
      typeof surgeSpec === 'number' ? surgeSpec : Math.ceil((max * Number.parseInt(surgeSpec, 10)) / 100);
    return {
      name,
      kind: object.kind,
      pods: `${max} (${by}) + ${surge} (rolling-update surge) = ${max + surge}`,
      maxPods: max + surge,
      pool,
    };
  });
}

function containersOf(overlay: Overlay): { workload: Workload; env: AppEnv }[] {
  const objects = renderOverlay(overlay);
  return workloads(objects)
    .filter((w) => w.pod.containers.some((c) => targetOfImage(c.image)))
    .map((workload) => ({
      workload,
      env: loadConfig(containerEnv(workload.pod.containers[0], objects, extraSecrets(overlay)).values),
    }));
}

function postgresLimits(overlay: Overlay): { max: number; reserved: number } {
  const [namespace] = byKind(renderOverlay(overlay), 'Namespace');
  const annotations = namespace.metadata.annotations ?? {};
  return {
    max: Number(annotations['agent-platform/postgres-max-connections']),
    reserved: Number(annotations['agent-platform/postgres-reserved-connections']),
  };
}

/** The table k8s/overlays/prod/README.md must show, computed from the rendered overlay. */
function arithmeticTable(overlay: Overlay): string {
  const lines = poolLines(overlay);
  const total = lines.reduce((sum, l) => sum + l.maxPods * l.pool, 0);
  const { max, reserved } = postgresLimits(overlay);
  return [
    '| workload | pods at most | DB_POOL_MAX | connections |',
    '|---|---|---|---|',
    ...lines.map((l) => `| ${l.name} (${l.kind}) | ${l.pods} | ${l.pool} | ${l.maxPods * l.pool} |`),
    `| **total** | | | **${total}** |`,
    '',
    `${total} <= max_connections ${max} - ${reserved} reserved = ${max - reserved}`,
  ].join('\n');
}

describe('connection pools x replicas fit Postgres max_connections', () => {
  it.each(OVERLAYS)(
    'k8s %s: DB_POOL_MAX x the most pods each workload can have <= max_connections - reserved',
    (overlay) => {
      const lines = poolLines(overlay);
      expect(lines.map((l) => l.name).sort()).toEqual(['agent-worker', 'migrate', 'orchestrator']);
      const total = lines.reduce((sum, l) => sum + l.maxPods * l.pool, 0);
      const { max, reserved } = postgresLimits(overlay);
      expect(max).toBeGreaterThan(0);
      expect(total).toBeLessThanOrEqual(max - reserved);
    },
  );

  it('k8s dev: the in-cluster Postgres is started with the max_connections the arithmetic assumes', () => {
    const postgres = workloads(renderOverlay('dev')).find((w) => w.object.metadata.name === 'postgres')!;
    expect(postgres.pod.containers[0].args).toEqual(['-c', `max_connections=${postgresLimits('dev').max}`]);
  });

  it('k8s/overlays/prod/README.md shows the arithmetic of the rendered prod overlay', () => {
    expect(readRepoFile('k8s', 'overlays', 'prod', 'README.md')).toContain(arithmeticTable('prod'));
  });

  it('compose: orchestrator + the documented `--scale agent-worker=N` + migrate fit the postgres service', () => {
    const scale = Number(/--scale agent-worker=(\d+)/.exec(readRepoFile('docker-compose.yml'))![1]);
    const maxConnections = Number(
      /max_connections=(\d+)/.exec((compose.services.postgres.command as string[]).join(' '))![1],
    );
    // Services that use the database are the ones that wait for it.
    const users = composeApps.filter(({ service }) =>
      JSON.stringify(service.depends_on ?? {}).includes('"postgres"'),
    );
    expect(users.map((u) => u.name).sort()).toEqual(['agent-worker', 'migrate', 'orchestrator']);
    const total = users.reduce(
      (sum, { name, service }) =>
        sum + (name === 'agent-worker' ? scale : 1) * loadConfig(composeEnv(service)).DB_POOL_MAX,
      0,
    );
    const superuserReserved = 3; // Postgres default superuser_reserved_connections
    expect(total).toBeLessThanOrEqual(maxConnections - superuserReserved);
  });
});
