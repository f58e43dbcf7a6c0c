import Redis from 'ioredis';
import { compare, httpSettings, log, type Bench, type BenchMode, type Measurement } from '../measure';

/**
 * --mode protection: what the protection layer costs on POST /v1/tasks: the orchestrator without keys,
 * limiter, shedding or request log, against key + limiter + shedding, and against that plus a log line per
 * request; with the limiter's Redis EVALs per request. Its ratios are information.
 */
const protection: BenchMode = {
  connections: 50,
  // Development mode: production refuses to start without API keys, and the bare variant has none.
  settings: (o) => ({ ...httpSettings(o), NODE_ENV: 'development' }),
  async run(b) {
    const variant = async (name: string, env: Record<string, string>): Promise<Measurement> => {
      log(`protection: ${name}`);
      const all = { RECONCILER_ENABLED: 'false', NODE_ENV: 'development', MAX_IN_FLIGHT: '100', ...env };
      const { target } = await b.start(`orchestrator-${name}`, { api: 'orchestrator', env: all });
      const m = await b.http(`orchestrator, ${name}`, `${target}/v1/tasks`, { 'x-api-key': b.key.key });
      if (name === 'protected')
        b.notes.push(
          `the rate limiter ran ${await evalsPerRequest(b, target)} Redis EVALs per request (500 requests)`,
        );
      await b.stopAll();
      return m;
    };
    const off = { API_KEYS: '', RATE_LIMIT_ENABLED: 'false', LOG_REQUESTS: 'false', MAX_IN_FLIGHT: '0' };
    const bare = await variant('bare', off);
    const guarded = await variant('protected', { RATE_LIMIT_ENABLED: 'true', LOG_REQUESTS: 'false' });
    const logged = await variant('logged', {
      RATE_LIMIT_ENABLED: 'true',
      LOG_REQUESTS: 'true',
      LOG_LEVEL: 'info',
    });
    b.notes.push(
      'protection ratios are information: short runs on a shared machine; compare them with each other',
    );
    return [
      compare('protection', 'POST /v1/tasks: API key + rate limiter + shedding, against none', bare, guarded),
      compare(
        'protection-log',
        'POST /v1/tasks: the same plus one log line per request, against none',
        bare,
        logged,
      ),
    ];
  },
};
export default protection;

/** EVAL and EVALSHA (and their _ro forms) all run the limiter's script; the Redis may be shared: rough. */
async function evalsPerRequest(b: Bench, url: string): Promise<number> {
  const redis = new Redis(b.o.redisUrl);
  const stats = async (): Promise<number> =>
    [...(await redis.info('commandstats')).matchAll(/cmdstat_eval\w*:calls=(\d+)/g)].reduce(
      (a, m) => a + +m[1],
      0,
    );
  const before = await stats();
  for (let i = 0; i < 500; i++)
    await fetch(`${url}/v1/tasks?limit=1`, { headers: { 'x-api-key': b.key.key } });
  const evals = (await stats()) - before;
  redis.disconnect();
  return evals / 500;
}
