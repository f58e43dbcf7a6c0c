import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Pool } from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { apiKeysEnv, testKey, ALL_API_SCOPES } from '../../../test/support/api-keys';
import { startOrchestrator, type RunningApp } from '../../../test/support/apps';
import { createPersona, succeedTask, testPool } from '../../../test/support/db';
import { eventually, request, type JsonResponse } from '../../../test/support/http';
import {
  EXAMPLE_KEY_NAME,
  EXAMPLE_MISSING_PERSONA_ID,
  EXAMPLE_PERSONA_ID,
} from '../src/openapi/api-responses';

/**
 * The OpenAPI document against the running app: the document it serves is openapi.json, and every
 * documented response (status, example body, headers) is what the app really answers.
 */
const doc = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'openapi.json'), 'utf8'));

interface Call {
  method: string;
  path: string;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
}

/** Ids, limits and seconds differ from run to run: compare the words around them. */
function normalize(value: unknown): unknown {
  if (typeof value === 'string') {
    return value
      .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '<uuid>')
      .replace(/\d+/g, '<n>');
  }
  if (Array.isArray(value)) return value.map(normalize);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalize(v)]));
  }
  return value;
}

/**
 * Every scope, admin included: global personas can be changed and the admin API is open. Its tier
 * is the load-test one: this suite makes more than the default burst (50/s) of calls.
 */
const full = testKey('full', [...ALL_API_SCOPES, 'admin'], 'loadtest');
/** The examples' key: it holds only `admin`, so every /v1 route but the admin API refuses it with 403. */
const weak = testKey(EXAMPLE_KEY_NAME, ['admin']);
const isolated = () => `test-openapi-${process.pid}-${Date.now().toString(36)}`;

describe('OpenAPI document vs the running app', () => {
  let api: RunningApp;
  let pool: Pool;
  const fixtures = {
    queuedTask: '',
    failedTask: '',
    succeededTask: '',
    postId: '',
    persona: '',
    spare: '',
    keyToRevoke: '',
    keyToRotate: '',
    revokedKey: '',
    /** The examples' key name too, minted in Postgres without `admin`: the admin API refuses it with 403. */
    weakForAdmin: '',
  };

  const send = (app: RunningApp, call: Call, key: string | null = full.secret): Promise<JsonResponse> =>
    request(app.url, call.method, call.path, {
      body: call.body,
      rawBody: call.rawBody,
      headers: { ...(key ? { 'x-api-key': key } : {}), ...call.headers },
    });

  const createTask = async (): Promise<string> => {
    const res = await send(api, {
      method: 'POST',
      path: '/v1/tasks',
      body: { persona_id: fixtures.persona, task_type: 'generate_post', topic: 'openapi' },
    });
    expect(res.status).toBe(202);
    return res.body.id;
  };

  beforeAll(async () => {
    pool = testPool();
    api = await startOrchestrator({
      API_KEYS: apiKeysEnv([full, weak]),
      RATE_LIMIT_ENABLED: 'true',
      QUEUE_PREFIX: isolated(),
    });
    fixtures.persona = await createPersona(pool, 'openapi');
    fixtures.spare = await createPersona(pool, 'openapi-spare');
    fixtures.queuedTask = await createTask();
    fixtures.failedTask = await createTask();
    await pool.query(`UPDATE tasks SET status = 'failed', finished_at = now() WHERE id = $1`, [
      fixtures.failedTask,
    ]);
    fixtures.succeededTask = await createTask();
    fixtures.postId = await succeedTask(pool, fixtures.succeededTask);
    const mintKey = async (name: string, scopes: string[]) => {
      const res = await send(api, {
        method: 'POST',
        path: '/v1/admin/api-keys',
        body: { tenant: 'openapi', name, tier: 'default', scopes },
      });
      expect(res.status).toBe(201);
      return res.body as { id: string; key: string };
    };
    fixtures.keyToRevoke = (await mintKey('to-revoke', ['tasks:read'])).id;
    fixtures.keyToRotate = (await mintKey('to-rotate', ['tasks:read'])).id;
    fixtures.revokedKey = (await mintKey('revoked', ['tasks:read'])).id;
    await pool.query('UPDATE api_keys SET revoked_at = now() WHERE id = $1', [fixtures.revokedKey]);
    fixtures.weakForAdmin = (await mintKey(EXAMPLE_KEY_NAME, ['tasks:read'])).key;
    // The examples' conflicts happen on an archived persona with the examples' id.
    await pool.query(
      `INSERT INTO personas (id, name, system_prompt, model, temperature, max_tokens, archived_at)
       VALUES ($1, 'Developer Advocate', 'p', 'm', 0.7, 400, now())
       ON CONFLICT (id) DO UPDATE SET archived_at = now()`,
      [EXAMPLE_PERSONA_ID],
    );
  });
  afterAll(async () => {
    await api?.close();
    await pool?.end();
  });

  it('serves openapi.json at /docs-json', async () => {
    const res = await request(api.url, 'GET', '/docs-json');
    expect(res.status).toBe(200);
    expect(res.body).toEqual(doc);
  });

  const missingTask = () => `/v1/tasks/${uuidv7()}`;
  const BODY = {
    413: (path: string, method = 'POST'): Call => ({
      method,
      path,
      rawBody: JSON.stringify({ pad: 'x'.repeat(70_000) }),
      headers: { 'content-type': 'application/json' },
    }),
    415: (path: string, method = 'POST'): Call => ({
      method,
      path,
      rawBody: 'hello',
      headers: { 'content-type': 'text/plain' },
    }),
  };

  /** For each operation: a call that succeeds, and one that provokes each documented error. */
  const calls = (): Record<string, { ok: Call[]; errors: Record<number, Call> }> => ({
    createTask: {
      ok: [
        {
          method: 'POST',
          path: '/v1/tasks',
          body: { persona_id: fixtures.persona, task_type: 'generate_post', topic: 'replayed' },
          headers: { 'idempotency-key': `openapi-${isolated()}` },
        },
      ],
      errors: {
        400: {
          method: 'POST',
          path: '/v1/tasks',
          body: { persona_id: fixtures.persona, task_type: 'generate_poem', topic: 'x' },
        },
        413: BODY[413]('/v1/tasks'),
        415: BODY[415]('/v1/tasks'),
        422: {
          method: 'POST',
          path: '/v1/tasks',
          body: { persona_id: EXAMPLE_MISSING_PERSONA_ID, task_type: 'generate_post', topic: 'x' },
        },
      },
    },
    listTasks: {
      ok: [{ method: 'GET', path: '/v1/tasks?limit=2' }],
      errors: { 400: { method: 'GET', path: '/v1/tasks?limit=500' } },
    },
    getTask: {
      ok: [{ method: 'GET', path: `/v1/tasks/${fixtures.succeededTask}` }],
      errors: {
        400: { method: 'GET', path: '/v1/tasks/not-a-uuid' },
        404: { method: 'GET', path: missingTask() },
      },
    },
    streamTaskEvents: {
      // A finished task: the stream sends its terminal status and ends.
      ok: [{ method: 'GET', path: `/v1/tasks/${fixtures.succeededTask}/events` }],
      errors: {
        400: { method: 'GET', path: '/v1/tasks/not-a-uuid/events' },
        404: { method: 'GET', path: `${missingTask()}/events` },
      },
    },
    cancelTask: {
      ok: [{ method: 'POST', path: `/v1/tasks/${fixtures.queuedTask}/cancel` }],
      errors: {
        400: { method: 'POST', path: '/v1/tasks/not-a-uuid/cancel' },
        404: { method: 'POST', path: `${missingTask()}/cancel` },
        409: { method: 'POST', path: `/v1/tasks/${fixtures.succeededTask}/cancel` },
      },
    },
    retryTask: {
      ok: [{ method: 'POST', path: `/v1/tasks/${fixtures.failedTask}/retry` }],
      errors: {
        400: { method: 'POST', path: '/v1/tasks/not-a-uuid/retry' },
        404: { method: 'POST', path: `${missingTask()}/retry` },
        409: { method: 'POST', path: `/v1/tasks/${fixtures.succeededTask}/retry` },
      },
    },
    createPersona: {
      ok: [
        {
          method: 'POST',
          path: '/v1/personas',
          body: {
            id: `openapi-new-${Date.now().toString(36)}`,
            name: 'New',
            system_prompt: 'p',
            model: 'm',
            temperature: 0.5,
            max_tokens: 100,
          },
        },
      ],
      errors: {
        400: {
          method: 'POST',
          path: '/v1/personas',
          body: { id: EXAMPLE_PERSONA_ID, name: 'x', model: 'm', temperature: '0.7', max_tokens: 400 },
        },
        409: {
          method: 'POST',
          path: '/v1/personas',
          body: {
            id: EXAMPLE_PERSONA_ID,
            name: 'x',
            system_prompt: 'p',
            model: 'm',
            temperature: 0.7,
            max_tokens: 400,
          },
        },
        413: BODY[413]('/v1/personas'),
        415: BODY[415]('/v1/personas'),
      },
    },
    listPersonas: {
      ok: [{ method: 'GET', path: '/v1/personas?limit=2' }],
      errors: { 400: { method: 'GET', path: '/v1/personas?include_archived=maybe' } },
    },
    getPersona: {
      ok: [{ method: 'GET', path: `/v1/personas/${fixtures.persona}` }],
      errors: {
        400: { method: 'GET', path: '/v1/personas/Not%20A%20Slug' },
        404: { method: 'GET', path: `/v1/personas/${EXAMPLE_MISSING_PERSONA_ID}` },
      },
    },
    updatePersona: {
      ok: [{ method: 'PATCH', path: `/v1/personas/${fixtures.persona}`, body: { temperature: 0.9 } }],
      errors: {
        400: { method: 'PATCH', path: `/v1/personas/${fixtures.persona}`, body: { max_tokens: 40_000 } },
        404: { method: 'PATCH', path: `/v1/personas/${EXAMPLE_MISSING_PERSONA_ID}`, body: { name: 'x' } },
        409: { method: 'PATCH', path: `/v1/personas/${EXAMPLE_PERSONA_ID}`, body: { name: 'x' } },
        413: BODY[413](`/v1/personas/${fixtures.persona}`, 'PATCH'),
        415: BODY[415](`/v1/personas/${fixtures.persona}`, 'PATCH'),
      },
    },
    deletePersona: {
      ok: [{ method: 'DELETE', path: `/v1/personas/${fixtures.spare}` }],
      errors: {
        400: { method: 'DELETE', path: '/v1/personas/Not%20A%20Slug' },
        404: { method: 'DELETE', path: `/v1/personas/${EXAMPLE_MISSING_PERSONA_ID}` },
      },
    },
    listPosts: {
      ok: [{ method: 'GET', path: '/v1/posts?limit=2' }],
      errors: { 400: { method: 'GET', path: '/v1/posts?persona_id=Not%20A%20Slug' } },
    },
    getPost: {
      ok: [{ method: 'GET', path: `/v1/posts/${fixtures.postId}` }],
      errors: {
        400: { method: 'GET', path: '/v1/posts/not-a-uuid' },
        404: { method: 'GET', path: `/v1/posts/${uuidv7()}` },
      },
    },
    createApiKey: {
      ok: [
        {
          method: 'POST',
          path: '/v1/admin/api-keys',
          body: { tenant: 'openapi', name: 'created', tier: 'default', scopes: ['tasks:read'] },
        },
      ],
      errors: {
        400: {
          method: 'POST',
          path: '/v1/admin/api-keys',
          body: { tenant: 'openapi', name: 'created', tier: 'default', scopes: [] },
        },
        413: BODY[413]('/v1/admin/api-keys'),
        415: BODY[415]('/v1/admin/api-keys'),
      },
    },
    listApiKeys: {
      ok: [{ method: 'GET', path: '/v1/admin/api-keys?limit=2' }],
      errors: { 400: { method: 'GET', path: '/v1/admin/api-keys?limit=500' } },
    },
    revokeApiKey: {
      ok: [{ method: 'DELETE', path: `/v1/admin/api-keys/${fixtures.keyToRevoke}` }],
      errors: {
        400: { method: 'DELETE', path: '/v1/admin/api-keys/not-a-uuid' },
        404: { method: 'DELETE', path: `/v1/admin/api-keys/${uuidv7()}` },
      },
    },
    rotateApiKey: {
      ok: [{ method: 'POST', path: `/v1/admin/api-keys/${fixtures.keyToRotate}/rotate` }],
      errors: {
        400: { method: 'POST', path: '/v1/admin/api-keys/not-a-uuid/rotate' },
        404: { method: 'POST', path: `/v1/admin/api-keys/${uuidv7()}/rotate` },
        409: { method: 'POST', path: `/v1/admin/api-keys/${fixtures.revokedKey}/rotate` },
      },
    },
    getUsage: {
      ok: [{ method: 'GET', path: '/v1/usage' }],
      errors: {
        400: { method: 'GET', path: '/v1/usage?from=2020-02-01T00:00:00Z&to=2020-01-01T00:00:00Z' },
      },
    },
  });

  const operations = Object.values(doc.paths as Record<string, Record<string, any>>).flatMap((item) =>
    Object.values(item),
  );
  const documented = (operationId: string) => operations.find((op) => op.operationId === operationId);

  /** The response headers the document promises (X-RateLimit-* only where the limiter ran). */
  function expectDocumentedHeaders(operationId: string, res: JsonResponse, limiterOn: boolean): void {
    const response = documented(operationId).responses[String(res.status)];
    expect({ operationId, status: res.status, documented: Boolean(response) }).toEqual({
      operationId,
      status: res.status,
      documented: true,
    });
    for (const name of Object.keys(response.headers ?? {})) {
      if (name.startsWith('X-RateLimit-') && !limiterOn) continue;
      expect({ operationId, status: res.status, header: name, sent: res.headers.has(name) }).toEqual({
        operationId,
        status: res.status,
        header: name,
        sent: true,
      });
    }
  }

  function expectExample(operationId: string, res: JsonResponse): void {
    const example = documented(operationId).responses[String(res.status)].content['application/json'].example;
    expect({ operationId, status: res.status, body: normalize(res.body) }).toEqual({
      operationId,
      status: res.status,
      body: normalize(example),
    });
  }

  it('has a provoking call in this test for every documented status of every operation', () => {
    const table = calls();
    expect(Object.keys(table).sort()).toEqual(operations.map((op) => op.operationId).sort());
    for (const [operationId, { errors }] of Object.entries(table)) {
      const statuses = Object.keys(documented(operationId).responses).map(Number);
      const provoked = [...Object.keys(errors).map(Number), 401, 403, 429, 503];
      expect({ operationId, errors: statuses.filter((s) => s >= 400).sort() }).toEqual({
        operationId,
        errors: provoked.sort(),
      });
    }
  });

  it('answers each operation with a documented success status and its documented headers', async () => {
    for (const [operationId, { ok }] of Object.entries(calls())) {
      for (const call of ok) {
        const res = await send(api, call);
        expect({ operationId, success: [200, 201, 202, 204].includes(res.status) }).toEqual({
          operationId,
          success: true,
        });
        expectDocumentedHeaders(operationId, res, true);
        // The idempotent replay of the same request is the documented 200, Location included.
        if (call.headers?.['idempotency-key']) {
          const replay = await send(api, call);
          expect(replay.status).toBe(200);
          expectDocumentedHeaders(operationId, replay, true);
        }
      }
    }
  });

  it('answers each documented 400, 404, 409, 413, 415 and 422 with its example body and headers', async () => {
    for (const [operationId, { errors }] of Object.entries(calls())) {
      for (const [status, call] of Object.entries(errors)) {
        const res = await send(api, call);
        expect({ operationId, status: res.status }).toEqual({ operationId, status: Number(status) });
        expectExample(operationId, res);
        expectDocumentedHeaders(operationId, res, true);
      }
    }
  });

  it('answers 401 without a key and 403 for a key without the scope, as documented', async () => {
    for (const [operationId, { ok }] of Object.entries(calls())) {
      const unauthenticated = await send(api, ok[0], null);
      expect(unauthenticated.status).toBe(401);
      expectExample(operationId, unauthenticated);
      expectDocumentedHeaders(operationId, unauthenticated, false);

      const admin = ok[0].path.startsWith('/v1/admin/');
      const forbidden = await send(api, ok[0], admin ? fixtures.weakForAdmin : weak.secret);
      expect(forbidden.status).toBe(403);
      expectExample(operationId, forbidden);
      expectDocumentedHeaders(operationId, forbidden, false);
    }
  });

  it('answers 429 with Retry-After and X-RateLimit-* once the limit is used up, as documented', async () => {
    const limitedKey = testKey(EXAMPLE_KEY_NAME, [...ALL_API_SCOPES, 'admin']);
    const limited = await startOrchestrator({
      API_KEYS: apiKeysEnv([limitedKey]),
      RATE_LIMIT_ENABLED: 'true',
      QUEUE_PREFIX: isolated(),
      RATE_LIMIT_TIERS: JSON.stringify({ default: { per_minute: 1, burst_per_second: 1000 } }),
    });
    try {
      expect((await send(limited, { method: 'GET', path: '/v1/personas' }, limitedKey.secret)).status).toBe(
        200,
      );
      for (const [operationId, { ok }] of Object.entries(calls())) {
        const res = await send(limited, ok[0], limitedKey.secret);
        expect({ operationId, status: res.status }).toEqual({ operationId, status: 429 });
        expectExample(operationId, res);
        expectDocumentedHeaders(operationId, res, true);
      }
    } finally {
      await limited.close();
    }
  });

  it('answers 503 with Retry-After while the replica is full, as documented', async () => {
    const busy = await startOrchestrator({ MAX_IN_FLIGHT: '1' });
    // A request whose body never finishes holds the only slot: the shedder counts it from onRequest.
    const port = Number(new URL(busy.url).port);
    const held: Socket = connect(port, '127.0.0.1');
    held.on('error', () => undefined);
    held.write(
      'POST /v1/personas HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{',
    );
    try {
      await eventually(async () => {
        const res = await send(busy, { method: 'GET', path: '/v1/personas' });
        return res.status === 503 ? res : undefined;
      });
      for (const [operationId, { ok }] of Object.entries(calls())) {
        // Event streams are not counted against MAX_IN_FLIGHT but against LONG_POLL_MAX_WAITERS
        // (their 503 is asserted in apps/agent-worker/test/task-events.e2e-spec.ts).
        if (operationId === 'streamTaskEvents') continue;
        const res = await send(busy, ok[0]);
        expect({ operationId, status: res.status }).toEqual({ operationId, status: 503 });
        expectExample(operationId, res);
        expectDocumentedHeaders(operationId, res, false);
      }
    } finally {
      held.destroy();
      await busy.close();
    }
  });
});
