// `npm start`: build if needed, create the database and apply migrations, then run the orchestrator and
// the agent worker in the foreground, their logs on this terminal. Ctrl-C (or SIGTERM) stops both cleanly.
import { loadConfig } from '@app/platform/config/load-config';
import type { AppEnv } from '@app/platform/config/env.schema';
import { ENTRY, buildIfNeeded, migrate, spawnProcess, waitFor } from '../tools/stack';

const STOP_TIMEOUT_MS = 30000;

async function main(): Promise<void> {
  buildIfNeeded();
  let config: AppEnv;
  try {
    config = loadConfig();
  } catch (err) {
    console.error((err as Error).message);
    process.exit(1);
  }
  await migrate(process.env, 'inherit').catch(() => {
    console.error(
      `Could not prepare the database at ${new URL(config.DATABASE_URL).host}. Is Postgres running?\n` +
        '  pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start',
    );
    process.exit(1);
  });
  // Own process groups: a terminal Ctrl-C reaches only this script, which sends each app one SIGTERM.
  const apps = [
    { name: 'orchestrator', port: config.ORCHESTRATOR_PORT, entry: ENTRY.orchestrator },
    { name: 'agent-worker', port: config.WORKER_HEALTH_PORT, entry: ENTRY.worker },
  ].map((a) => ({
    ...a,
    proc: spawnProcess({ name: a.name, args: [a.entry], env: process.env, output: 'inherit' }),
  }));
  let stopping = false;
  let exitCode = 0;
  const stop = (): void => {
    if (stopping) return apps.forEach((a) => a.proc.child.kill('SIGKILL'));
    stopping = true;
    console.error('stopping orchestrator and agent-worker (Ctrl-C again to force)...');
    for (const a of apps) void a.proc.stop(STOP_TIMEOUT_MS);
  };
  for (const a of apps)
    void a.proc.exited.then(({ code, signal }) => {
      if (!stopping) {
        console.error(`${a.name} exited unexpectedly (${signal ?? `code ${code}`}); stopping the platform`);
        exitCode = 1;
        stop();
      }
    });
  void Promise.all(apps.map((a) => a.proc.exited)).then(() => process.exit(exitCode));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);

  const live = await Promise.all(
    apps.map((a) =>
      waitFor(`http://127.0.0.1:${a.port}/health/live`, { timeoutMs: 30000, alive: () => a.proc.alive }).then(
        () => true,
        () => false,
      ),
    ),
  );
  if (stopping) return;
  const api = `http://127.0.0.1:${config.ORCHESTRATOR_PORT}`;
  const worker = `http://127.0.0.1:${config.WORKER_HEALTH_PORT}`;
  // In production /metrics and /docs are served on the internal port only (none when it is unset).
  const internal = config.ORCHESTRATOR_INTERNAL_PORT
    ? `http://127.0.0.1:${config.ORCHESTRATOR_INTERNAL_PORT}`
    : config.NODE_ENV === 'production'
      ? undefined
      : api;
  console.error(
    [
      '',
      `agent-platform is ${live.every(Boolean) ? 'running' : 'starting (slowly; check the logs above)'}:`,
      `  API              ${api}/v1/tasks  (also /v1/personas, /v1/posts)`,
      `  Swagger UI       ${internal ? `${internal}/docs  (OpenAPI JSON: ${internal}/docs-json)` : 'off (set ORCHESTRATOR_INTERNAL_PORT)'}`,
      `  Queue dashboard  ${api}/admin/queues  (an API key with the admin scope when API_KEYS is set)`,
      `  Metrics          ${internal ? `${internal}/metrics` : 'off (set ORCHESTRATOR_INTERNAL_PORT)'}`,
      `  Health           ${api}/health/live  ${api}/health/ready`,
      `  Worker           ${worker}/health/live  ${worker}/health/ready  ${worker}/metrics`,
      'Press Ctrl-C to stop both.',
      '',
    ].join('\n'),
  );
}

void main();
