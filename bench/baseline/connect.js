// What both bare baselines connect to, configured like the real services: a Postgres pool (DATABASE_URL,
// DB_POOL_MAX) and the task queue (REDIS_URL, QUEUE_PREFIX).
const { Pool } = require('pg');
const Queue = require('bull');

const env = process.env;
module.exports = (name) => ({
  pool: new Pool({
    connectionString: env.DATABASE_URL,
    max: Number(env.DB_POOL_MAX || 30),
    application_name: name,
  }),
  queue: new Queue('agent-tasks', env.REDIS_URL, { prefix: env.QUEUE_PREFIX }),
});
