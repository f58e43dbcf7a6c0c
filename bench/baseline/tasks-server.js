// Bare baseline for `npm run bench` (a): what POST /v1/tasks costs with no framework. Plain Fastify + pg +
// bull doing the orchestrator's work for a task: parse and check the JSON body, one INSERT (the same
// statement, persona check included), one Bull add (same job id and options), 202 with the row as JSON.
// No auth, no rate limit, no validation library, no logging: the floor the real service is measured against.
const Fastify = require('fastify');
const { v7: uuidv7 } = require('uuid');

const env = process.env;
const { pool, queue } = require('./connect')('bench-baseline');

const INSERT_TASK_SQL = `
  INSERT INTO tasks (id, persona_id, task_type, input, client_id, tenant, idempotency_key, request_fingerprint, request_id, callback_url)
  SELECT $1, p.id, $3, $4, $5, $5, $6, $7, $8, $9 FROM personas p WHERE p.id = $2 AND p.archived_at IS NULL
  ON CONFLICT (tenant, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
  RETURNING *`;

const iso = (d) => (d ? d.toISOString() : null);
const app = Fastify({ logger: false });

app.get('/health/live', async () => ({ status: 'ok' }));

app.post('/v1/tasks', async (request, reply) => {
  const b = request.body;
  if (
    !b ||
    typeof b.persona_id !== 'string' ||
    (b.task_type !== 'generate_post' && b.task_type !== 'generate_thread')
  ) {
    return reply
      .code(400)
      .send({ statusCode: 400, error: 'Bad Request', message: 'persona_id and task_type are required' });
  }
  const input = {};
  for (const k of ['pain_statement', 'trend_snippet', 'topic']) if (typeof b[k] === 'string') input[k] = b[k];
  const id = uuidv7();
  const { rows } = await pool.query(INSERT_TASK_SQL, [
    id,
    b.persona_id,
    b.task_type,
    input,
    'anonymous',
    null,
    null,
    String(request.id),
    null,
  ]);
  if (rows.length === 0)
    return reply
      .code(422)
      .send({ statusCode: 422, error: 'Unprocessable Entity', message: 'unknown persona' });
  await queue.add(
    'run-task',
    { taskId: id, requestId: null },
    {
      jobId: id,
      attempts: 5,
      backoff: { type: 'exponential', delay: 1000 },
      removeOnComplete: true,
      removeOnFail: { count: 10000 },
    },
  );
  const t = rows[0];
  reply.code(202).header('location', `/v1/tasks/${id}`);
  return {
    id: t.id,
    persona_id: t.persona_id,
    task_type: t.task_type,
    status: t.status,
    input: t.input,
    attempts: t.attempts,
    last_error: t.last_error,
    request_id: t.request_id,
    callback_url: t.callback_url,
    created_at: iso(t.created_at),
    started_at: iso(t.started_at),
    finished_at: iso(t.finished_at),
    updated_at: iso(t.updated_at),
    post: null,
  };
});

const shutdown = async () => {
  await app.close();
  await queue.close();
  await pool.end();
  process.exit(0);
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

app.listen({ port: Number(env.PORT), host: '127.0.0.1' }).catch((err) => {
  console.error(err);
  process.exit(1);
});
