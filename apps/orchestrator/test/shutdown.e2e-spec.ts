import { Client, type Pool } from 'pg';
import { spawnOrchestrator, type ChildApp } from '../../../test/support/child-app';
import { createPersona, testPool } from '../../../test/support/db';
import { eventually, request } from '../../../test/support/http';
import { metricValue } from '../../../test/support/metrics';
import { testConfig } from '../../../test/support/test-env';

/** The real process (main.ts) receives SIGTERM, as a Kubernetes pod does. */
describe('graceful shutdown of the orchestrator process', () => {
  let pool: Pool;
  let locker: Client;
  let persona: string;
  let child: ChildApp | undefined;
  beforeAll(async () => {
    pool = testPool();
    persona = await createPersona(pool, 'shutdown');
  });
  beforeEach(async () => {
    locker = new Client({ connectionString: testConfig().DATABASE_URL });
    await locker.connect();
  });
  afterEach(async () => {
    await locker.end();
    child?.kill();
    await child?.exited;
  });
  afterAll(async () => {
    await pool.end();
  });

  const task = (topic: string) => ({ persona_id: persona, task_type: 'generate_post', topic });

  it('SIGTERM: readiness 503 at once, in-flight requests finish, long-polls answer, then the process exits in time', async () => {
    const GRACE = 1500;
    const DRAIN = 3000;
    child = await spawnOrchestrator({ SHUTDOWN_GRACE_MS: String(GRACE), SHUTDOWN_DRAIN_MS: String(DRAIN) });
    const app = child;
    const queued = await request(app.url, 'POST', '/v1/tasks', { body: task('waited on') });
    expect(queued.status).toBe(202);

    await locker.query('BEGIN; LOCK TABLE tasks IN EXCLUSIVE MODE');
    const inFlight = request(app.url, 'POST', '/v1/tasks', { body: task('in flight at SIGTERM') });
    const longPoll = request(app.url, 'GET', `/v1/tasks/${queued.body.id}?wait=20`);
    await eventually(async () => {
      const busy = await metricValue(app.url, 'http_requests_in_flight{app="orchestrator"}');
      const polls = await metricValue(app.url, 'http_long_polls_in_flight{app="orchestrator"}');
      return busy === 1 && polls === 1 ? true : undefined;
    });

    const signalledAt = Date.now();
    app.process.kill('SIGTERM');
    const notReady = await eventually(
      async () => {
        const res = await request(app.url, 'GET', '/health/ready');
        return res.status === 503 ? res : undefined;
      },
      1000,
      20,
    );
    expect(Date.now() - signalledAt).toBeLessThan(1000);
    expect(notReady.headers.get('retry-after')).toBe('5');
    // During the grace period the replica still serves whatever the load balancer still sends.
    expect((await request(app.url, 'GET', '/v1/personas?limit=1')).status).toBe(200);

    await locker.query('ROLLBACK');
    const finished = await inFlight;
    expect(finished.status).toBe(202);

    const polled = await longPoll;
    expect(polled.status).toBe(200);
    expect(polled.body.status).toBe('queued');
    const pollEndedAfter = polled.ms;
    expect(pollEndedAfter).toBeLessThan(GRACE + DRAIN);

    const exit = await app.exited;
    expect(exit.at - signalledAt).toBeLessThan(GRACE + DRAIN);
    // A clean close re-raises SIGTERM (Nest); the deadline would have exited with code 1.
    expect(exit.code === 0 || exit.signal === 'SIGTERM').toBe(true);
  });

  it('a request that never finishes cannot hold the process past SHUTDOWN_GRACE_MS + SHUTDOWN_DRAIN_MS', async () => {
    const GRACE = 500;
    const DRAIN = 1500;
    child = await spawnOrchestrator({
      SHUTDOWN_GRACE_MS: String(GRACE),
      SHUTDOWN_DRAIN_MS: String(DRAIN),
      DB_STATEMENT_TIMEOUT_MS: '30000',
    });
    const app = child;
    await locker.query('BEGIN; LOCK TABLE tasks IN EXCLUSIVE MODE');
    const stuck = request(app.url, 'POST', '/v1/tasks', { body: task('stuck') }).catch((err: Error) => err);
    await eventually(async () =>
      (await metricValue(app.url, 'http_requests_in_flight{app="orchestrator"}')) === 1 ? true : undefined,
    );

    const signalledAt = Date.now();
    app.process.kill('SIGTERM');
    const exit = await app.exited;
    const took = exit.at - signalledAt;
    expect(took).toBeGreaterThanOrEqual(GRACE + DRAIN - 100);
    expect(took).toBeLessThan(GRACE + DRAIN + 1500);
    expect(exit.code).toBe(1);
    expect(await stuck).not.toHaveProperty('status'); // no answer: the connection went away with the process
    await locker.query('ROLLBACK');
  });
});
