// Bare baseline for `npm run bench` (b): a Bull processor doing the agent worker's database work for a
// job with no framework: claim the task (same statement), write the post and mark it succeeded (same
// statement), publish the completion event. The "agent" is a fixed string: the builtin agent's cost is
// part of what the real worker is measured on.
const { v7: uuidv7 } = require('uuid');

const env = process.env;
const { pool, queue } = require('./connect')('bench-baseline-worker');

const CLAIM_SQL = `
  UPDATE tasks t SET status = 'running', attempts = t.attempts + 1,
         started_at = COALESCE(t.started_at, now()), updated_at = now()
  FROM personas p
  WHERE t.id = $1 AND t.status IN ('queued', 'running') AND p.id = t.persona_id
  RETURNING t.id, t.task_type, t.input, t.persona_id, p.name AS persona_name, p.system_prompt`;

const COMPLETE_SQL = `
  WITH post AS (
    INSERT INTO posts (id, task_id, persona_id, hook, body, tokens_used, model, latency_ms)
    VALUES ($2, $1, $3, $4, $5, $6, $7, $8)
    ON CONFLICT (task_id) DO NOTHING
  )
  UPDATE tasks SET status = 'succeeded', last_error = NULL, finished_at = now(), updated_at = now()
  WHERE id = $1 AND status = 'running'`;

queue.process('run-task', Number(env.WORKER_CONCURRENCY || 16), async (job) => {
  const { rows } = await pool.query(CLAIM_SQL, [job.data.taskId]);
  const task = rows[0];
  if (!task) return 'skipped';
  const subject = task.input.topic || task.input.pain_statement || 'this';
  await pool.query(COMPLETE_SQL, [
    task.id,
    uuidv7(),
    task.persona_id,
    `Three honest lessons about ${subject}.`,
    `${task.persona_name}: fix the loop you run most often.`,
    42,
    'baseline',
    0,
  ]);
  await queue.client.publish(`${env.QUEUE_PREFIX}:task-events:${task.id}`, 'succeeded');
  return 'succeeded';
});

const shutdown = async () => {
  await queue.close();
  await pool.end();
  process.exit(0);
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
