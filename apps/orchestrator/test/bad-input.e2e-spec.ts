import type { Pool } from 'pg';
import { startOrchestrator, type RunningApp } from '../../../test/support/apps';
import { countRows, createPersona, testPool } from '../../../test/support/db';
import { request } from '../../../test/support/http';

/**
 * Hostile and malformed input over every /v1 endpoint. Each case must get a 4xx with the
 * platform's error body and a message naming the problem (and the field, where there is one);
 * none may get a 5xx, and none may write anything.
 */
interface Case {
  name: string;
  method: string;
  path: string;
  body?: unknown;
  raw?: string;
  type?: string;
  /** The status, or the statuses that are all right (e.g. 400 or 415 for a form body). */
  status: number | number[];
  /** Must appear in the message (a field name or the reason). */
  mentions: RegExp;
}

const TASK_ID = '00000000-0000-7000-8000-00000000abcd';
const deepObject = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
const deepArray = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

describe('bad input over every /v1 endpoint: 4xx with a clear message, never 5xx, nothing written', () => {
  let api: RunningApp;
  let pool: Pool;
  let persona: string;
  let counts: Record<string, number>;
  const countAll = async () => ({
    tasks: await countRows(pool, 'tasks'),
    personas: await countRows(pool, 'personas'),
    posts: await countRows(pool, 'posts'),
  });

  beforeAll(async () => {
    api = await startOrchestrator();
    pool = testPool();
    persona = await createPersona(pool, 'bad-input');
    counts = await countAll();
  });
  afterAll(async () => {
    await api.close();
    await pool.end();
  });

  // 'PERSONA' is replaced by this suite's persona when the request is sent.
  const task = (extra: Record<string, unknown> = {}) => ({
    persona_id: 'PERSONA',
    task_type: 'generate_post',
    topic: 'fine',
    ...extra,
  });
  const personaBody = (extra: Record<string, unknown> = {}) => ({
    id: 'bad-input-new',
    name: 'New',
    system_prompt: 'p',
    model: 'm',
    temperature: 0.5,
    max_tokens: 100,
    ...extra,
  });

  const bodyEndpoints: [string, string][] = [
    ['POST', '/v1/tasks'],
    ['POST', '/v1/personas'],
    ['PATCH', '/v1/personas/PERSONA'],
  ];
  // cancel and retry take no body: what is sent is parsed (and refused when broken), then ignored.
  const bodylessEndpoints: [string, string][] = [
    ['POST', `/v1/tasks/${TASK_ID}/cancel`],
    ['POST', `/v1/tasks/${TASK_ID}/retry`],
  ];
  const parseCases = (method: string, path: string): Case[] => [
    {
      name: `${path}: malformed JSON`,
      method,
      path,
      raw: '{"persona_id": "x",',
      status: 400,
      mentions: /JSON/,
    },
    {
      name: `${path}: text/plain`,
      method,
      path,
      raw: 'hello',
      type: 'text/plain',
      status: 415,
      mentions: /Content-Type/i,
    },
    {
      name: `${path}: a body over BODY_LIMIT_BYTES`,
      method,
      path,
      raw: JSON.stringify({ x: 'y'.repeat(70_000) }),
      status: 413,
      mentions: /large/i,
    },
    // Prototype poisoning is refused by Fastify's parser (secure-json-parse) as invalid JSON.
    {
      name: `${path}: a __proto__ key`,
      method,
      path,
      raw: '{"__proto__":{"admin":true}}',
      status: 400,
      mentions: /JSON/,
    },
    {
      name: `${path}: a constructor.prototype key`,
      method,
      path,
      raw: '{"constructor":{"prototype":{"admin":true}}}',
      status: 400,
      mentions: /JSON/,
    },
  ];

  // Malformed documents, the same for every endpoint that reads a body.
  const documentCases: Case[] = bodylessEndpoints
    .flatMap(([method, path]) => parseCases(method, path))
    .concat(
      bodyEndpoints.flatMap(([method, path]) => [
        ...parseCases(method, path),
        { name: 'a trailing comma', method, path, raw: '{"a":1,}', status: 400, mentions: /JSON/ },
        { name: 'a bare string', method, path, raw: '"hello"', status: 400, mentions: /JSON object/ },
        { name: 'a number', method, path, raw: '42', status: 400, mentions: /JSON object/ },
        {
          name: 'form encoding',
          method,
          path,
          raw: 'zzz=1',
          type: 'application/x-www-form-urlencoded',
          status: [400, 415],
          mentions: /zzz|Content-Type/i,
        },
        {
          name: 'an object nested 10000 deep',
          method,
          path,
          raw: deepObject(10_000),
          status: 400,
          mentions: /nested deeper than 32/,
        },
        {
          name: 'an array nested 30000 deep',
          method,
          path,
          raw: deepArray(30_000),
          status: 400,
          mentions: /JSON object/,
        },
        {
          name: 'an unknown field nested 40 deep',
          method,
          path,
          raw: `{"x":${deepObject(40)}}`,
          status: 400,
          mentions: /nested deeper than 32/,
        },
      ]),
    );

  const fieldCases: Case[] = [
    // POST /v1/tasks
    ...[
      ['persona_id as a number', { persona_id: 7 }, /persona_id/],
      ['persona_id as null', { persona_id: null }, /persona_id/],
      ['persona_id as an object', { persona_id: { $ne: '' } }, /persona_id/],
      ['persona_id with SQL', { persona_id: "' OR '1'='1" }, /persona_id/],
      ['persona_id with a NUL', { persona_id: 'a\u0000b' }, /persona_id/],
      ['task_type as an array', { task_type: ['generate_post'] }, /task_type/],
      ['topic as a number', { topic: 5 }, /topic/],
      ['topic as a boolean', { topic: true }, /topic/],
      ['topic with a NUL character', { topic: 'a\u0000b' }, /topic/],
      ['topic with a lone UTF-16 surrogate', { topic: 'a\ud800b' }, /topic.*valid Unicode/],
      ['extras with a lone surrogate in a key', { extras: { 'k\udc00': 1 } }, /extras.*valid Unicode/],
      ['pain_statement too long', { pain_statement: 'p'.repeat(2001) }, /pain_statement/],
      ['extras as an array', { extras: [1, 2] }, /extras/],
      ['extras as a string', { extras: 'x' }, /extras/],
      ['extras nested', { extras: { a: { b: { c: 1 } } } }, /extras/],
      [
        'extras with 21 keys',
        { extras: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, i])) },
        /extras/,
      ],
      ['extras with a NUL in a value', { extras: { a: 'x\u0000' } }, /extras/],
      ['callback_url javascript:', { callback_url: 'javascript:alert(1)' }, /callback_url/],
      ['callback_url as a number', { callback_url: 1 }, /callback_url/],
      ['an unknown field', { is_admin: true }, /is_admin/],
    ].map(([name, extra, mentions]) => ({
      name: `task with ${name as string}`,
      method: 'POST',
      path: '/v1/tasks',
      body: task(extra as Record<string, unknown>),
      status: 400,
      mentions: mentions as RegExp,
    })),
    {
      name: 'task without persona_id',
      method: 'POST',
      path: '/v1/tasks',
      body: { task_type: 'generate_post', topic: 'x' },
      status: 400,
      mentions: /persona_id/,
    },
    {
      name: 'task without any input',
      method: 'POST',
      path: '/v1/tasks',
      body: { persona_id: 'x', task_type: 'generate_post' },
      status: 400,
      mentions: /pain_statement/,
    },
    {
      name: 'an empty task object',
      method: 'POST',
      path: '/v1/tasks',
      body: {},
      status: 400,
      mentions: /persona_id/,
    },
    // POST /v1/personas
    ...[
      ['an uppercase id', { id: 'Bad-ID' }, /id/],
      ['an id of 65 characters', { id: 'a'.repeat(65) }, /id/],
      ['an id with a path', { id: '../etc' }, /id/],
      ['an empty name', { name: '' }, /name/],
      ['a name as a number', { name: 12 }, /name/],
      ['a name with a NUL', { name: 'x\u0000' }, /name/],
      ['a temperature as a string', { temperature: '0.5' }, /temperature/],
      ['a temperature of 3', { temperature: 3 }, /temperature/],
      ['max_tokens of 1.5', { max_tokens: 1.5 }, /max_tokens/],
      ['max_tokens of 0', { max_tokens: 0 }, /max_tokens/],
      ['max_tokens as a string', { max_tokens: '100' }, /max_tokens/],
      ['a system_prompt over 8000 characters', { system_prompt: 's'.repeat(8001) }, /system_prompt/],
      ['an unknown field', { owner: 'me' }, /owner/],
    ].map(([name, extra, mentions]) => ({
      name: `persona with ${name as string}`,
      method: 'POST',
      path: '/v1/personas',
      body: personaBody(extra as Record<string, unknown>),
      status: 400,
      mentions: mentions as RegExp,
    })),
    {
      // 1e309 parses to Infinity, which JSON.stringify cannot send: the raw text can.
      name: 'persona with a temperature of 1e309',
      method: 'POST',
      path: '/v1/personas',
      raw: JSON.stringify(personaBody()).replace('"temperature":0.5', '"temperature":1e309'),
      status: 400,
      mentions: /temperature/,
    },
    {
      name: 'persona without a model',
      method: 'POST',
      path: '/v1/personas',
      body: { ...personaBody(), model: undefined },
      status: 400,
      mentions: /model/,
    },
    // PATCH /v1/personas/:id
    {
      name: 'an empty patch',
      method: 'PATCH',
      path: '/v1/personas/PERSONA',
      body: {},
      status: 400,
      mentions: /at least one field/,
    },
    {
      name: 'a patch of the id',
      method: 'PATCH',
      path: '/v1/personas/PERSONA',
      body: { id: 'other' },
      status: 400,
      mentions: /id/,
    },
    {
      name: 'a patch with a wrong type',
      method: 'PATCH',
      path: '/v1/personas/PERSONA',
      body: { max_tokens: 'lots' },
      status: 400,
      mentions: /max_tokens/,
    },
    {
      name: 'a patch with a NUL',
      method: 'PATCH',
      path: '/v1/personas/PERSONA',
      body: { system_prompt: '\u0000' },
      status: 400,
      mentions: /system_prompt/,
    },
  ];

  const idCases: Case[] = [
    ...['not-a-uuid', `${TASK_ID}0`, "1' OR '1'='1", '%00', 'x'.repeat(90), '..%2F..%2Fetc%2Fpasswd'].flatMap(
      (id) => [
        {
          name: `task id ${id.slice(0, 20)}`,
          method: 'GET',
          path: `/v1/tasks/${id}`,
          status: 400,
          mentions: /id/,
        },
        {
          name: `cancel id ${id.slice(0, 20)}`,
          method: 'POST',
          path: `/v1/tasks/${id}/cancel`,
          status: 400,
          mentions: /id/,
        },
        {
          name: `retry id ${id.slice(0, 20)}`,
          method: 'POST',
          path: `/v1/tasks/${id}/retry`,
          status: 400,
          mentions: /id/,
        },
        {
          name: `post id ${id.slice(0, 20)}`,
          method: 'GET',
          path: `/v1/posts/${id}`,
          status: 400,
          mentions: /id/,
        },
      ],
    ),
    ...['UPPER', 'a%20b', '%00', "x'--", '-leading-dash', 'x'.repeat(65)].flatMap((id) => [
      {
        name: `persona id ${id.slice(0, 20)}`,
        method: 'GET',
        path: `/v1/personas/${id}`,
        status: 400,
        mentions: /id/,
      },
      {
        name: `patch persona id ${id.slice(0, 20)}`,
        method: 'PATCH',
        path: `/v1/personas/${id}`,
        body: { name: 'x' },
        status: 400,
        mentions: /id/,
      },
      {
        name: `delete persona id ${id.slice(0, 20)}`,
        method: 'DELETE',
        path: `/v1/personas/${id}`,
        status: 400,
        mentions: /id/,
      },
    ]),
  ];

  const queryCases: Case[] = [
    ...['/v1/tasks', '/v1/posts', '/v1/personas'].flatMap((path) =>
      [
        ['limit=-1', /limit/],
        ['limit=1e3', /limit/],
        ['limit=abc', /limit/],
        ['limit=1&limit=2', /limit/],
        ['cursor=%00%01', /cursor/],
        [`cursor=${'A'.repeat(300)}`, /cursor/],
        ['unknown=1', /unknown/],
        ['constructor=1', /constructor/],
        ['__proto__=1', /__proto__/],
      ].map(([qs, mentions]) => ({
        name: `${path}?${qs}`.slice(0, 60),
        method: 'GET',
        path: `${path}?${qs}`,
        status: 400,
        mentions: mentions as RegExp,
      })),
    ),
    {
      name: 'tasks?status=DROP',
      method: 'GET',
      path: '/v1/tasks?status=DROP%20TABLE',
      status: 400,
      mentions: /status/,
    },
    {
      name: 'tasks?created_after=2026-13-45',
      method: 'GET',
      path: '/v1/tasks?created_after=2026-13-45',
      status: 400,
      mentions: /created_after/,
    },
    {
      name: 'tasks?persona_id with NUL',
      method: 'GET',
      path: '/v1/tasks?persona_id=a%00b',
      status: 400,
      mentions: /persona_id/,
    },
    {
      name: 'posts?persona_id injection',
      method: 'GET',
      path: "/v1/posts?persona_id=x'%20OR%201=1--",
      status: 400,
      mentions: /persona_id/,
    },
    {
      name: 'personas?include_archived=maybe',
      method: 'GET',
      path: '/v1/personas?include_archived=maybe',
      status: 400,
      mentions: /include_archived/,
    },
    {
      name: 'task wait=-1',
      method: 'GET',
      path: `/v1/tasks/${TASK_ID}?wait=-1`,
      status: 400,
      mentions: /wait/,
    },
    {
      name: 'task wait=1e9x',
      method: 'GET',
      path: `/v1/tasks/${TASK_ID}?wait=1e9x`,
      status: 400,
      mentions: /wait/,
    },
    {
      name: 'task wait twice',
      method: 'GET',
      path: `/v1/tasks/${TASK_ID}?wait=1&wait=2`,
      status: 400,
      mentions: /wait/,
    },
  ];

  const headerCases: Case[] = [
    {
      name: 'an Idempotency-Key with a space',
      method: 'POST',
      path: '/v1/tasks',
      body: { task_type: 'generate_post' },
      status: 400,
      mentions: /persona_id|Idempotency-Key/,
    },
  ];

  it.each(
    [...documentCases, ...fieldCases, ...idCases, ...queryCases, ...headerCases].map(
      (c) => [c.name, c] as const,
    ),
  )('%s', async (_name, c) => {
    const path = c.path.replace('PERSONA', persona);
    const body =
      c.body === undefined
        ? undefined
        : JSON.parse(JSON.stringify(c.body).replaceAll('"PERSONA"', JSON.stringify(persona)));
    const res = await request(api.url, c.method, path, {
      body,
      rawBody: c.raw,
      headers: c.raw !== undefined ? { 'content-type': c.type ?? 'application/json' } : {},
    });
    expect([c.status].flat()).toContain(res.status);
    expect(res.body.statusCode).toBe(res.status);
    expect(typeof res.body.error).toBe('string');
    expect(res.body.message).toMatch(c.mentions);
  });

  it('wrote nothing through all of the above', async () => {
    expect(await countAll()).toEqual(counts);
  });
});

describe('unusual but valid input is stored exactly', () => {
  let api: RunningApp;
  let pool: Pool;
  let persona: string;
  beforeAll(async () => {
    api = await startOrchestrator();
    pool = testPool();
    persona = await createPersona(pool, 'unicode');
  });
  afterAll(async () => {
    await api.close();
    await pool.end();
  });

  it.each([
    ['emoji and astral characters', '🚀 deploys 𝔽𝕒𝕤𝕥 — café'],
    ['right-to-left and combining marks', 'مرحبا بالعالم e\u0301'],
    ['SQL', "'; DROP TABLE tasks; --"],
    ['HTML', '<script>alert(1)</script>'],
    ['a JSON-looking string', '{"$gt": ""}'],
  ])('%s in free text', async (_name, topic) => {
    const res = await request(api.url, 'POST', '/v1/tasks', {
      body: { persona_id: persona, task_type: 'generate_post', topic },
    });
    expect(res.status).toBe(202);
    const { rows } = await pool.query(`SELECT input->>'topic' AS topic FROM tasks WHERE id = $1`, [
      res.body.id,
    ]);
    expect(rows[0].topic).toBe(topic);
    expect(await countRows(pool, 'tasks', 'persona_id = $1', [persona])).toBeGreaterThan(0);
  });
});
