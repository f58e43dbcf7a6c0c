import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { retryAfterMs, retryingFetch } from './retry';

const ROOT = join(__dirname, '..', '..', '..');

describe('@agent-platform/client', () => {
  it('schema.ts is what openapi-typescript generates from openapi.json (npm run client:generate)', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [join(ROOT, 'node_modules', 'openapi-typescript', 'bin', 'cli.js'), 'openapi.json'],
      { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 },
    );
    expect(stdout).toBe(readFileSync(join(__dirname, 'schema.ts'), 'utf8'));
  }, 30_000);
});

describe('retryingFetch', () => {
  /** A fetch that answers from a script and records what it was sent. */
  function scripted(...answers: Array<[number, Record<string, string>?]>) {
    const seen: Array<{ method: string; body: string }> = [];
    const fetchOnce = async (request: Request) => {
      seen.push({ method: request.method, body: await request.text() });
      const [status, headers] = answers.shift() ?? [200];
      return new Response(JSON.stringify({ statusCode: status }), { status, headers });
    };
    return { fetchOnce, seen };
  }
  const post = () => new Request('http://api.test/v1/tasks', { method: 'POST', body: '{"topic":"x"}' });

  it('retries a 429 after its Retry-After, sending the same body again', async () => {
    const { fetchOnce, seen } = scripted([429, { 'retry-after': '2' }], [202]);
    const waits: number[] = [];
    const res = await retryingFetch(fetchOnce, {}, async (ms) => void waits.push(ms))(post());
    expect(res.status).toBe(202);
    expect(waits).toEqual([2000]);
    expect(seen).toEqual([
      { method: 'POST', body: '{"topic":"x"}' },
      { method: 'POST', body: '{"topic":"x"}' },
    ]);
  });

  it('retries a 503 at most `attempts` tries, then returns the last answer', async () => {
    const { fetchOnce, seen } = scripted(
      [503, { 'retry-after': '1' }],
      [503, { 'retry-after': '1' }],
      [503, { 'retry-after': '1' }],
    );
    const waits: number[] = [];
    const res = await retryingFetch(fetchOnce, { attempts: 3 }, async (ms) => void waits.push(ms))(post());
    expect(res.status).toBe(503);
    expect(seen).toHaveLength(3);
    expect(waits).toEqual([1000, 1000]);
  });

  it('does not wait longer than maxDelayMs: a longer Retry-After is returned as it is', async () => {
    const { fetchOnce, seen } = scripted([429, { 'retry-after': '60' }]);
    const waits: number[] = [];
    const res = await retryingFetch(
      fetchOnce,
      { maxDelayMs: 5000 },
      async (ms) => void waits.push(ms),
    )(post());
    expect(res.status).toBe(429);
    expect(seen).toHaveLength(1);
    expect(waits).toEqual([]);
  });

  it('never retries other statuses', async () => {
    for (const status of [400, 409, 422, 500, 502]) {
      const { fetchOnce, seen } = scripted([status], [200]);
      const res = await retryingFetch(fetchOnce, {}, async () => undefined)(post());
      expect({ status: res.status, tries: seen.length }).toEqual({ status, tries: 1 });
    }
  });

  it('reads Retry-After as seconds or as an HTTP date, and backs off without one', async () => {
    const now = Date.parse('2026-11-27T12:00:00Z');
    expect(retryAfterMs('3', now)).toBe(3000);
    expect(retryAfterMs('Fri, 27 Nov 2026 12:00:05 GMT', now)).toBe(5000);
    expect(retryAfterMs(null, now)).toBeNull();
    expect(retryAfterMs('soon', now)).toBeNull();

    const { fetchOnce } = scripted([503], [503], [200]);
    const waits: number[] = [];
    await retryingFetch(fetchOnce, {}, async (ms) => void waits.push(ms))(post());
    expect(waits).toEqual([500, 1000]);
  });
});
