import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startOrchestrator, startWorker, type RunningApp } from '../../test/support/apps';
import { countRows, testPool } from '../../test/support/db';
import { apiKeysEnv, mintApiKey } from '../../tools/stack';
import { executeRun, measureFloor } from '../runner/run';
import { loadScenario } from '../runner/scenario';

/**
 * The runner end to end, as CI runs it: the `smoke` scenario (about 10 s) against the real orchestrator
 * and worker (started in-process on the test database and queue), then the end-to-end check through
 * Postgres. Asserts correctness (every request answered, every task done once), never speed.
 */
describe('load-test runner: smoke scenario end to end', () => {
  let orchestrator: RunningApp;
  let worker: RunningApp;
  let outDir: string;
  const pool = testPool();
  // Keys as load-test:local issues them: harmless while auth is off, what the runner sends once it is on.
  const key = mintApiKey('load-e2e', 'loadtest');

  beforeAll(async () => {
    orchestrator = await startOrchestrator({ API_KEYS: apiKeysEnv([key]) });
    worker = await startWorker();
    outDir = mkdtempSync(path.join(tmpdir(), 'load-smoke-'));
  });

  afterAll(async () => {
    await worker?.close();
    await orchestrator?.close();
    await pool.end();
    rmSync(outDir, { recursive: true, force: true });
  });

  it('runs every stage, follows every accepted task to success, and writes the three reports', async () => {
    const scenario = loadScenario('smoke');
    const logs: string[] = [];
    const floor = await measureFloor(scenario, { log: (line) => logs.push(line) });
    const { report, files } = await executeRun({
      scenario,
      target: orchestrator.url,
      apiKeys: [key.key],
      floor,
      databaseUrl: orchestrator.env.DATABASE_URL,
      redisUrl: orchestrator.env.REDIS_URL,
      outDir,
      mode: 'e2e',
      command: 'jest load-tests/test/smoke.e2e-spec.ts',
      progressEveryMs: 0,
      log: (line) => logs.push(line),
    });

    // Shape: one block per stage and per request, a timeline, machine and command recorded.
    expect(report.scenario.name).toBe('smoke');
    expect(report.stages.map((s) => s.target)).toEqual([5, 5, 0]);
    expect(report.stages.every((s) => s.requests > 0)).toBe(true);
    expect(Object.keys(report.requests)).toEqual(['create_task', 'get_task', 'list_tasks', 'health_live']);
    expect(report.overall.maxUsers).toBe(5);
    expect(report.timeline.points.length).toBeGreaterThanOrEqual(8);
    expect(report.machine.postgres).toBeTruthy();
    expect(report.machine.cores).toBeGreaterThan(0);
    expect(report.run.command).toContain('smoke');
    expect(report.overall.sentBytes).toBeGreaterThan(0);
    expect(report.overall.receivedBytes).toBeGreaterThan(report.overall.sentBytes);
    expect(report.processes.map((p) => p.name)).toContain('load-generator');

    // Correctness: nothing failed, every accepted task succeeded exactly once.
    expect(report.overall.errorsByKind).toEqual({});
    expect(report.overall.success).toBe(report.overall.requests);
    expect(report.tasks.method).toBe('postgres');
    expect(report.tasks.accepted).toBe(report.requests.create_task.success);
    expect(report.tasks.accepted).toBeGreaterThan(10);
    expect(report.tasks).toMatchObject({
      lost: 0,
      missing: 0,
      unfinished: 0,
      duplicates: 0,
      succeededWithoutPost: 0,
      failed: 0,
    });
    expect(report.tasks.succeeded).toBe(report.tasks.accepted);
    expect(report.tasks.completionMs.count).toBe(report.tasks.accepted);
    expect(report.thresholds.length).toBeGreaterThan(0);
    expect(report.thresholds.every((t) => t.ok === true)).toBe(true);
    expect(report.passed).toBe(true);

    // The run used its own persona, archived at the end, and its tasks are all in Postgres with one post each.
    expect(report.run.persona).toMatch(/^load-/);
    const { rows } = await pool.query('SELECT archived_at FROM personas WHERE id = $1', [report.run.persona]);
    expect(rows[0].archived_at).not.toBeNull();
    expect(await countRows(pool, 'tasks', 'persona_id = $1', [report.run.persona])).toBe(
      report.tasks.accepted,
    );
    expect(await countRows(pool, 'posts', 'persona_id = $1', [report.run.persona])).toBe(
      report.tasks.accepted,
    );

    // The generator's own floor (the same profile against a null target) is stated in the report.
    expect(report.generator?.floor).toMatchObject({ errors: 0 });
    expect(report.generator?.floor?.latencyMs.count).toBeGreaterThan(0);
    expect(report.generator?.loopLagMs.max).toBeGreaterThanOrEqual(0);

    for (const file of Object.values(files!)) expect(existsSync(file)).toBe(true);
    expect(JSON.parse(readFileSync(files!.json, 'utf8')).tasks.lost).toBe(0);
    const md = readFileSync(files!.md, 'utf8');
    expect(md).toContain(`| Total requests | ${report.overall.requests} |`);
    expect(md).toContain('| Floor (same profile, null target) | P50 ');
    expect(readFileSync(files!.html, 'utf8')).toContain('id="c-latency"');
  }, 90_000);
});
