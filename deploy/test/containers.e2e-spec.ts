import { migrations } from '@app/db/migrations';
import { loadConfig } from '@app/platform';
import { execFileSync } from 'node:child_process';
import { parse } from 'yaml';
import { testPool } from '../../test/support/db';
import { testEnvVars } from '../../test/support/test-env';
import {
  METRICS_PORT_VAR,
  SCHEMA_KEYS,
  shutdownBudgetMs,
  staticallyMissingContractItems,
} from './support/contract';
import {
  byKind,
  composeEnv,
  healthcheckUrl,
  loadCompose,
  OVERLAYS,
  readRepoFile,
  renderOverlay,
  repoPath,
  targetOfImage,
  workloads,
} from './support/manifests';
import {
  containerEnvironment,
  dockerStages,
  entryBuilt,
  httpGet,
  imageTargets,
  startContainerCmd,
  waitUntil,
  type ContainerProcess,
} from './support/processes';
import { freePort } from '../../test/support/ports';

/*
 * The container-equivalent test: build, then run each Dockerfile target's CMD exactly as the image
 * would (same argv, image ENV + the compose service's environment; see support/processes.ts), ask
 * the running apps which ports they listen on and which routes they serve, and put them through a
 * SIGTERM: clean and bounded shutdown, and no accepted task lost across the restart.
 */

const PORT_KEYS = SCHEMA_KEYS.filter((key) => key.endsWith('_PORT'));
/**
 * Ports an app opens beside its main one (the orchestrator's internal port, bound before the API
 * port): they answer /health/live too, so they are not used to find the port an app listens on.
 */
const HEALTHCHECK_PORT_VARS = new Set(
  [...dockerStages.values()].map((s) => (s.healthcheck ? healthcheckUrl(s.healthcheck)?.portVar : '')),
);
const SECONDARY_PORT_KEYS = new Set(
  Object.values(METRICS_PORT_VAR).filter((v) => !HEALTHCHECK_PORT_VARS.has(v)),
);
/** A contract item the deployment files use but the code does not provide. */
function missing(item: string): never {
  throw new Error(`missing: ${item}`);
}

interface RunningApp {
  process: ContainerProcess;
  /** The port each port variable was given. */
  ports: Record<string, string>;
  /** The port the app answers on, and the variable that set it. */
  port: number;
  portKey: string;
  url: string;
}

describe('container commands (Dockerfile CMD with the compose environment)', () => {
  const isolation = {
    DATABASE_URL: testEnvVars().DATABASE_URL,
    REDIS_URL: testEnvVars().REDIS_URL,
    QUEUE_PREFIX: `deploy-${process.pid}`,
    HTTP_HOST: '127.0.0.1',
  };
  const running: Record<string, RunningApp> = {};
  const started: ContainerProcess[] = [];
  const pool = testPool();

  const dependencies = new Map<string, Promise<RunningApp>>();

  /**
   * The environment compose gives a target, made local: Postgres, Redis and the queue prefix are the
   * test ones, and a URL naming another app service of compose (the worker's LLM_BASE_URL ->
   * llm-sim) points at that app's CMD, started here on demand.
   */
  async function localEnvironment(target: string): Promise<Record<string, string>> {
    const env: Record<string, string> = { ...containerEnvironment(target), ...isolation };
    const services = loadCompose().services;
    for (const [key, value] of Object.entries(env)) {
      if (key in isolation || !/^[a-z]+:\/\//.test(value)) continue;
      const url = new URL(value);
      const dependency = services[url.hostname]?.build?.target;
      if (!dependency || dependency === target || !entryBuilt(dockerStages.get(dependency)!.cmd[1])) continue;
      if (!dependencies.has(dependency)) dependencies.set(dependency, start(dependency));
      const app = await dependencies.get(dependency)!;
      url.hostname = '127.0.0.1';
      url.port = String(app.port);
      env[key] = url.toString();
    }
    return env;
  }

  /**
   * Starts a target's CMD with every port variable on a free port of its own (no two processes
   * share one), finds the variable the app listens on by asking each port, then waits until its
   * Dockerfile HEALTHCHECK path answers 200 (what compose's `service_healthy` waits for).
   */
  async function start(target: string): Promise<RunningApp> {
    const ports: Record<string, string> = {};
    for (const key of PORT_KEYS) ports[key] = String(await freePort());
    const process = startContainerCmd(target, { ...(await localEnvironment(target)), ...ports });
    started.push(process);
    const found = await waitUntil(
      `${target} answering /health/live on one of its port variables`,
      async () => {
        if (!process.running) throw new Error(`${target} exited at boot\n${process.tail()}`);
        for (const key of PORT_KEYS.filter((k) => !SECONDARY_PORT_KEYS.has(k))) {
          const res = await httpGet(`http://127.0.0.1:${ports[key]}/health/live`);
          if (res?.status === 200) return key;
        }
        return undefined;
      },
      20_000,
    );
    const url = `http://127.0.0.1:${ports[found]}`;
    const healthPath = healthcheckUrl(dockerStages.get(target)!.healthcheck ?? '')?.path ?? '/health/live';
    await waitUntil(
      `${target} healthy (GET ${healthPath})`,
      async () => ((await httpGet(`${url}${healthPath}`))?.status === 200 ? true : undefined),
      15_000,
    );
    const app = { process, ports, portKey: found, port: Number(ports[found]), url };
    running[target] = app;
    return app;
  }

  beforeAll(async () => {
    execFileSync(process.execPath, [repoPath('scripts', 'build.js'), '--if-needed'], { stdio: 'inherit' });
    await Promise.all(['orchestrator', 'agent-worker'].map(start));
    // Any other server image that can run here (llm-sim once built) is started too, if no app needed it.
    for (const { target, entry } of imageTargets()) {
      if (target !== 'migrate' && !running[target] && entryBuilt(entry)) await start(target);
    }
  }, 120_000);

  afterAll(async () => {
    for (const p of started) p.kill();
    await pool.end();
  });

  it('every Dockerfile CMD runs a file that `npm run build` produces', () => {
    const targets = imageTargets();
    expect(targets.map((t) => t.target).sort()).toEqual([
      'agent-worker',
      'llm-sim',
      'migrate',
      'orchestrator',
    ]);
    for (const { target, stage, entry } of targets) {
      expect({ target, argv: stage.cmd.slice(0, 1), entry: entry.startsWith('dist/') }).toEqual({
        target,
        argv: ['node'],
        entry: true,
      });
      if (!entryBuilt(entry)) missing(`app ${target}: ${entry}`);
    }
  });

  it('the migrate CMD creates and migrates the database, then exits 0', async () => {
    const process = startContainerCmd('migrate', { ...containerEnvironment('migrate'), ...isolation });
    started.push(process);
    const exit = await process.exited;
    expect({ exit, output: exit.code === 0 ? '' : process.tail() }).toEqual({
      exit: { code: 0, signal: null },
      output: '',
    });
    const { rows } = await pool.query('SELECT name FROM typeorm_migrations ORDER BY id');
    expect(rows.map((r) => r.name)).toEqual(migrations.map((m) => m.name));
  });

  it('each image CMD starts its own app, listening on the port variable its HEALTHCHECK names', async () => {
    for (const [target, app] of Object.entries(running)) {
      expect({ target, portKey: app.portKey }).toEqual({
        target,
        portKey: healthcheckUrl(dockerStages.get(target)!.healthcheck!)!.portVar,
      });
      // An app that serves metrics labels them with its name: the target's name.
      const metrics = await httpGet(`${app.url}/metrics`);
      if (metrics?.status === 200) expect(metrics.body).toContain(`app="${target}"`);
    }
    // Only the orchestrator is the API.
    expect((await httpGet(`${running.orchestrator.url}/docs-json`))?.status).toBe(200);
    expect((await httpGet(`${running['agent-worker'].url}/docs-json`))?.status).toBe(404);
  });

  it('every probe, healthcheck and scrape path of Dockerfile, compose, k8s and Prometheus is a route the app serves', async () => {
    // portVar: the variable of the port the check goes to, when it is not the app's main port.
    const checks: { where: string; target: string; path: string; portVar?: string }[] = [];
    for (const [target, stage] of dockerStages) {
      const url = stage.healthcheck && healthcheckUrl(stage.healthcheck);
      if (url) checks.push({ where: `Dockerfile HEALTHCHECK ${target}`, target, path: url.path });
    }
    for (const overlay of OVERLAYS) {
      for (const { object, pod } of workloads(renderOverlay(overlay))) {
        for (const container of pod.containers.filter((c) => targetOfImage(c.image))) {
          for (const kind of ['startupProbe', 'readinessProbe', 'livenessProbe'] as const) {
            const path = container[kind]?.httpGet?.path;
            if (path)
              checks.push({
                where: `k8s ${overlay} ${object.metadata.name} ${kind}`,
                target: targetOfImage(container.image)!,
                path,
              });
          }
        }
      }
      for (const monitor of byKind(renderOverlay(overlay), 'ServiceMonitor')) {
        const selects: string[] = (monitor.spec as any).selector.matchExpressions[0].values;
        for (const endpoint of (monitor.spec as any).endpoints) {
          for (const service of selects)
            checks.push({
              where: `k8s ${overlay} ServiceMonitor`,
              target: service,
              path: endpoint.path,
              portVar: METRICS_PORT_VAR[service],
            });
        }
      }
    }
    const prometheus = parse(readRepoFile('deploy', 'prometheus', 'prometheus.yml'));
    const compose = loadCompose();
    for (const job of prometheus.scrape_configs) {
      const targets: [string, number][] = [
        ...(job.static_configs ?? []).flatMap((c: { targets: string[] }) =>
          c.targets.map((t): [string, number] => [t.split(':')[0], Number(t.split(':')[1])]),
        ),
        ...(job.dns_sd_configs ?? []).flatMap((c: { names: string[]; port: number }) =>
          c.names.map((n): [string, number] => [n, c.port]),
        ),
      ];
      for (const [host, port] of targets) {
        // The variable that gives the service this port, so the check asks the same port here.
        const [portVar] = Object.entries(composeEnv(compose.services[host])).find(
          ([key, value]) => key.endsWith('_PORT') && Number(value) === port,
        ) ?? [undefined];
        expect({ job: job.job_name, host, port, portVar }).toEqual({
          job: job.job_name,
          host,
          port,
          portVar: expect.any(String),
        });
        checks.push({
          where: `prometheus job ${job.job_name}`,
          target: compose.services[host].build!.target!,
          path: job.metrics_path,
          portVar,
        });
      }
    }

    const failures: string[] = [];
    for (const check of checks) {
      const app = running[check.target];
      if (!app) {
        // Not startable on this branch: its entry file is missing (checked and listed above).
        const entry = dockerStages.get(check.target)!.cmd[1];
        if (entryBuilt(entry)) failures.push(`${check.where}: ${check.target} was not started`);
        else missing(`app ${check.target}: ${entry}`);
        continue;
      }
      const base = check.portVar ? `http://127.0.0.1:${app.ports[check.portVar]}` : app.url;
      const res = await httpGet(`${base}${check.path}`);
      if (res?.status !== 200)
        failures.push(
          `${check.where}: GET ${check.path} on ${check.target} (${check.portVar ?? app.portKey}) -> ${res?.status}`,
        );
    }
    expect(failures).toEqual([]);
    // Every source of paths was read.
    const sources = new Set(checks.map((c) => c.where.split(' ').slice(0, 2).join(' ')));
    expect([...sources].sort()).toEqual(['Dockerfile HEALTHCHECK', 'k8s dev', 'k8s prod', 'prometheus job']);
  });

  it('every metric the Grafana dashboard plots and the alert rules read is exported by an app', async () => {
    const dashboard = JSON.parse(readRepoFile('deploy', 'grafana', 'dashboards', 'agent-platform.json'));
    const ruleExprs = byKind(renderOverlay('prod'), 'PrometheusRule').flatMap((rule) =>
      (rule.spec as { groups: { rules: { expr: string }[] }[] }).groups.flatMap((g) =>
        g.rules.map((r) => r.expr),
      ),
    );
    expect(ruleExprs.length).toBeGreaterThan(5);
    const exprs: string[] = [
      ...dashboard.panels.flatMap((p: { targets?: { expr: string }[] }) =>
        (p.targets ?? []).map((t) => t.expr),
      ),
      ...ruleExprs,
    ];
    const plotted = new Set(
      exprs.flatMap((e) => [...e.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{/g)].map((m) => m[1])),
    );
    const exported = new Set<string>();
    for (const app of Object.values(running)) {
      const text = (await httpGet(`${app.url}/metrics`))?.body ?? '';
      for (const m of text.matchAll(/^# TYPE (\S+) (\w+)/gm)) exported.add(m[1]);
    }
    expect(plotted.size).toBeGreaterThan(5);
    for (const name of plotted) {
      const family = name.replace(/_(bucket|count|sum)$/, '');
      if (!exported.has(name) && !exported.has(family)) missing(`metric ${family}`);
    }
  });

  it('SIGTERM: each app stops cleanly within its budget and the grace periods, and no accepted task is lost across a restart', async () => {
    const api = running.orchestrator;
    const worker = running['agent-worker'];
    const createTasks = async (n: number, label: string): Promise<string[]> => {
      const responses = await Promise.all(
        Array.from({ length: n }, async (_, i) => {
          const res = await fetch(`${api.url}/v1/tasks`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({
              persona_id: 'founder-voice',
              task_type: 'generate_post',
              topic: `${label} ${i}`,
            }),
          });
          expect(res.status).toBe(202);
          return ((await res.json()) as { id: string }).id;
        }),
      );
      return responses;
    };
    const statuses = async (ids: string[]) =>
      (
        await pool.query('SELECT status, count(*)::int AS n FROM tasks WHERE id = ANY($1) GROUP BY status', [
          ids,
        ])
      ).rows.reduce(
        (acc: Record<string, number>, r: { status: string; n: number }) => ({ ...acc, [r.status]: r.n }),
        {},
      );
    const clean = (exit: { code: number | null; signal: string | null }) =>
      exit.signal === 'SIGTERM' || exit.code === 0 ? 'clean' : `code ${exit.code} signal ${exit.signal}`;
    const limits = (target: string, app: RunningApp) => {
      const budget = shutdownBudgetMs(target, loadConfig(app.process.env));
      const service = Object.values(loadCompose().services).find((s) => s.build?.target === target)!;
      const k8sGrace = OVERLAYS.flatMap((o) =>
        workloads(renderOverlay(o))
          .filter((w) => targetOfImage(w.pod.containers[0].image) === target)
          .map((w) => (w.pod.terminationGracePeriodSeconds ?? 30) * 1000),
      );
      return {
        budget,
        hardLimit: Math.min(Number.parseInt(service.stop_grace_period!, 10) * 1000, ...k8sGrace),
      };
    };

    // 1. SIGTERM the worker while it has jobs in flight. The builtin agent finishes a job in
    //    milliseconds, so a test transaction holds the posts table's lock: the worker claims tasks
    //    (running) and then waits to write their posts, as it would wait on a slow LLM call.
    const workerLimits = limits('agent-worker', worker);
    const blocker = await pool.connect();
    let first: string[];
    let workerExit: Awaited<ReturnType<ContainerProcess['terminate']>>;
    try {
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE posts IN EXCLUSIVE MODE');
      first = await createTasks(20, 'before worker stop');
      await waitUntil('worker busy', async () => ((await statuses(first)).running ? true : undefined), 5000);
      const stopping = worker.process.terminate(workerLimits.hardLimit);
      // Past the drain the worker is closing: it must still be waiting for its active jobs.
      await new Promise((r) => setTimeout(r, loadConfig(worker.process.env).SHUTDOWN_GRACE_MS + 300));
      expect(worker.process.running).toBe(true);
      expect((await statuses(first)).running).toBeGreaterThan(0);
      await blocker.query('COMMIT');
      workerExit = await stopping;
    } finally {
      await blocker.query('ROLLBACK').catch(() => undefined);
      blocker.release();
    }
    expect(clean(workerExit)).toBe('clean');
    expect(workerExit.ms).toBeLessThanOrEqual(workerLimits.budget + 5000);
    expect(workerExit.ms).toBeLessThan(workerLimits.hardLimit);
    // A graceful stop finishes the jobs it took (none is left running); those it had not taken wait.
    const afterWorker = await statuses(first);
    expect(afterWorker.running).toBeUndefined();
    expect(afterWorker.succeeded).toBeGreaterThan(0);

    // 2. Tasks accepted while no worker runs stay queued.
    const second = await createTasks(10, 'while worker down');
    expect(await statuses(second)).toEqual({ queued: 10 });

    // 3. SIGTERM the API: readiness turns 503 at once, then it drains and exits within its budget.
    const apiLimits = limits('orchestrator', api);
    const apiStopping = api.process.terminate(apiLimits.hardLimit);
    const readyDuringDrain = await waitUntil(
      'orchestrator readiness 503 after SIGTERM',
      async () => ((await httpGet(`${api.url}/health/ready`))?.status === 503 ? 503 : undefined),
      1000,
    );
    expect(readyDuringDrain).toBe(503);
    const apiExit = await apiStopping;
    expect(clean(apiExit)).toBe('clean');
    expect(apiExit.ms).toBeGreaterThanOrEqual(loadConfig(api.process.env).SHUTDOWN_GRACE_MS * 0.9);
    expect(apiExit.ms).toBeLessThanOrEqual(apiLimits.budget + 5000);

    // 4. Restart both from the same CMD and environment: every accepted task reaches succeeded, once.
    const [api2, worker2] = await Promise.all(['orchestrator', 'agent-worker'].map(start));
    const all = [...first, ...second];
    await waitUntil(
      'every task succeeded',
      async () => ((await statuses(all)).succeeded === all.length ? true : undefined),
      15_000,
    );
    const posts = await pool.query(
      'SELECT count(*)::int AS n, count(DISTINCT task_id)::int AS tasks FROM posts WHERE task_id = ANY($1)',
      [all],
    );
    expect(posts.rows[0]).toEqual({ n: all.length, tasks: all.length });

    // 5. And both stop cleanly again, together.
    const exits = await Promise.all(
      [api2, worker2].map((app) => app.process.terminate(limits(app.process.target, app).hardLimit)),
    );
    expect(exits.map(clean)).toEqual(['clean', 'clean']);
  }, 60_000);

  it('every variable the deployment files set is in the env schema, and the k6 script compose runs exists', () => {
    expect(staticallyMissingContractItems()).toEqual([]);
  });
});
