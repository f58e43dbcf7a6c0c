#!/usr/bin/env node
// `npm start`: build if needed, create the database and apply migrations, then run the
// orchestrator and the agent worker in the foreground. Ctrl-C (or SIGTERM) stops both cleanly.
const { spawn, spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const node = process.execPath;
const STOP_TIMEOUT_MS = 30000;

function runOrExit(args, hint) {
  const result = spawnSync(node, args, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    if (hint) console.error(hint);
    process.exit(result.status ?? 1);
  }
}

runOrExit([path.join('scripts', 'build.js'), '--if-needed']);

let config;
try {
  config = require(path.join(root, 'dist/libs/platform/src')).loadConfig();
} catch (err) {
  console.error(err.message);
  process.exit(1);
}

runOrExit(
  [path.join('dist', 'libs', 'db', 'src', 'migrate.js')],
  `Could not prepare the database at ${new URL(config.DATABASE_URL).host}. Is Postgres running?\n` +
    `  pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`,
);

const apps = [
  { name: 'orchestrator', main: 'dist/apps/orchestrator/src/main.js', port: config.ORCHESTRATOR_PORT },
  { name: 'agent-worker', main: 'dist/apps/agent-worker/src/main.js', port: config.WORKER_HEALTH_PORT },
];
let stopping = false;
let exitCode = 0;

for (const app of apps) {
  // Own process group: a terminal Ctrl-C reaches only this script, which sends each app one SIGTERM,
  // so the apps shut down gracefully instead of seeing two signals.
  app.child = spawn(node, [app.main], { cwd: root, stdio: 'inherit', detached: true });
  app.child.on('exit', (code, signal) => {
    app.exited = true;
    if (!stopping) {
      console.error(`${app.name} exited unexpectedly (${signal ?? `code ${code}`}); stopping the platform`);
      exitCode = 1;
      stop();
    }
    if (apps.every((a) => a.exited)) process.exit(exitCode);
  });
}

function stop() {
  if (stopping) {
    for (const app of apps) if (!app.exited) app.child.kill('SIGKILL');
    return;
  }
  stopping = true;
  console.error('stopping orchestrator and agent-worker (Ctrl-C again to force)...');
  for (const app of apps) if (!app.exited) app.child.kill('SIGTERM');
  setTimeout(() => {
    for (const app of apps) if (!app.exited) app.child.kill('SIGKILL');
  }, STOP_TIMEOUT_MS).unref();
}
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
process.on('exit', () => {
  for (const app of apps) if (!app.exited) app.child.kill('SIGKILL');
});

async function waitForLive(port) {
  const deadline = Date.now() + 30000;
  while (Date.now() < deadline && !stopping) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/health/live`);
      if (res.ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

Promise.all(apps.map((a) => waitForLive(a.port))).then(([api, worker]) => {
  if (stopping) return;
  const base = `http://127.0.0.1:${config.ORCHESTRATOR_PORT}`;
  console.error(
    [
      '',
      `agent-platform is ${api && worker ? 'running' : 'starting (slowly; check the logs above)'}:`,
      `  API           ${base}/v1/tasks`,
      `  Swagger UI    ${base}/docs`,
      `  OpenAPI JSON  ${base}/docs-json`,
      `  Health        ${base}/health/live  (worker: http://127.0.0.1:${config.WORKER_HEALTH_PORT}/health/live)`,
      'Press Ctrl-C to stop both.',
      '',
    ].join('\n'),
  );
});
