import type { Pool } from 'pg';
import { startOrchestrator, type RunningApp } from '../../../test/support/apps';
import { countRows, createPersona, testPool } from '../../../test/support/db';
import { request, type JsonResponse } from '../../../test/support/http';

describe('personas API', () => {
  let api: RunningApp;
  let pool: Pool;
  const uniq = () => `persona-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
  const valid = (id: string) => ({
    id,
    name: 'Dev Advocate',
    system_prompt: 'You explain tools with runnable examples.',
    model: 'gpt-4o-mini',
    temperature: 0.4,
    max_tokens: 300,
  });

  beforeAll(async () => {
    api = await startOrchestrator();
    pool = testPool();
  });
  afterAll(async () => {
    await api.close();
    await pool.end();
  });

  it('lists the seeded personas', async () => {
    const res = await request(api.url, 'GET', '/v1/personas?limit=100');
    expect(res.status).toBe(200);
    expect(res.body.data.map((p: { id: string }) => p.id)).toEqual(
      expect.arrayContaining(['founder-voice', 'skeptical-analyst']),
    );
  });

  it('creates, reads and patches a persona', async () => {
    const id = uniq();
    const created = await request(api.url, 'POST', '/v1/personas', { body: valid(id) });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ ...valid(id), archived_at: null });

    const got = await request(api.url, 'GET', `/v1/personas/${id}`);
    expect(got.body).toEqual(created.body);

    const patched = await request(api.url, 'PATCH', `/v1/personas/${id}`, {
      body: { temperature: 1.1, name: 'Renamed' },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ id, temperature: 1.1, name: 'Renamed', model: 'gpt-4o-mini' });
  });

  it('answers 409 for a duplicate id, keeping the original', async () => {
    const id = uniq();
    await request(api.url, 'POST', '/v1/personas', { body: valid(id) });
    const dup = await request(api.url, 'POST', '/v1/personas', { body: { ...valid(id), name: 'Other' } });
    expect(dup.status).toBe(409);
    expect(dup.body.message).toContain(id);
    const { rows } = await pool.query('SELECT name FROM personas WHERE id = $1', [id]);
    expect(rows).toEqual([{ name: 'Dev Advocate' }]);
  });

  it.each([
    ['an uppercase id', { id: 'Bad-ID' }, 'id'],
    ['temperature above 2', { temperature: 3 }, 'temperature'],
    ['temperature as a string', { temperature: '0.5' }, 'temperature'],
    ['fractional max_tokens', { max_tokens: 10.5 }, 'max_tokens'],
    ['an empty name', { name: '' }, 'name'],
    ['an unknown field', { owner: 'me' }, 'owner'],
  ])('rejects %s with 400, writing nothing', async (_name, patch, field) => {
    const id = uniq();
    const before = await countRows(pool, 'personas');
    const res = await request(api.url, 'POST', '/v1/personas', { body: { ...valid(id), ...patch } });
    expect(res.status).toBe(400);
    expect(res.body.details).toEqual(expect.arrayContaining([expect.objectContaining({ field })]));
    expect(await countRows(pool, 'personas')).toBe(before);
  });

  it('names each missing field "is required", not a length or range it never had', async () => {
    const before = await countRows(pool, 'personas');
    const res = await request(api.url, 'POST', '/v1/personas', { body: { name: 'Minimal' } });
    expect(res.status).toBe(400);
    expect(res.body.details).toEqual([
      { field: 'id', reason: 'id is required' },
      { field: 'system_prompt', reason: 'system_prompt is required' },
      { field: 'model', reason: 'model is required' },
      { field: 'temperature', reason: 'temperature is required' },
      { field: 'max_tokens', reason: 'max_tokens is required' },
    ]);
    expect(res.body.message).toBe(
      'Validation failed: id is required; system_prompt is required; model is required; temperature is required; max_tokens is required',
    );
    expect(await countRows(pool, 'personas')).toBe(before);
  });

  it('names a wrong type before any length or range', async () => {
    const res = await request(api.url, 'POST', '/v1/personas', {
      body: { ...valid(uniq()), id: 7, name: 5, system_prompt: [], temperature: '0.5', max_tokens: 'many' },
    });
    expect(res.status).toBe(400);
    expect(res.body.details).toEqual([
      { field: 'id', reason: 'id must be a string' },
      { field: 'name', reason: 'name must be a string' },
      { field: 'system_prompt', reason: 'system_prompt must be a string' },
      { field: 'temperature', reason: 'temperature must be a number' },
      { field: 'max_tokens', reason: 'max_tokens must be a whole number' },
    ]);
    const patched = await request(api.url, 'PATCH', `/v1/personas/${await createPersona(pool, 'types')}`, {
      body: { temperature: 'hot', max_tokens: 12.5 },
    });
    expect(patched.body.details).toEqual([
      { field: 'temperature', reason: 'temperature must be a number' },
      { field: 'max_tokens', reason: 'max_tokens must be a whole number' },
    ]);
  });

  it('rejects an empty PATCH and a PATCH of the id', async () => {
    const id = await createPersona(pool, 'patch');
    const empty = await request(api.url, 'PATCH', `/v1/personas/${id}`, { body: {} });
    expect(empty.status).toBe(400);
    const idChange = await request(api.url, 'PATCH', `/v1/personas/${id}`, { body: { id: 'other' } });
    expect(idChange.status).toBe(400);
    expect(idChange.body.details).toEqual([expect.objectContaining({ field: 'id' })]);
  });

  it('answers 404 for an unknown persona and 400 for a malformed id', async () => {
    expect((await request(api.url, 'GET', '/v1/personas/nobody-here')).status).toBe(404);
    expect(
      (await request(api.url, 'PATCH', '/v1/personas/nobody-here', { body: { name: 'x' } })).status,
    ).toBe(404);
    expect((await request(api.url, 'DELETE', '/v1/personas/nobody-here')).status).toBe(404);
    const bad = await request(api.url, 'GET', '/v1/personas/NOT%20A%20SLUG');
    expect(bad.status).toBe(400);
  });

  it('DELETE archives: history stays, new tasks are refused, the list hides it, PATCH is 409', async () => {
    const id = await createPersona(pool, 'del');
    const task = await request(api.url, 'POST', '/v1/tasks', {
      body: { persona_id: id, task_type: 'generate_post', topic: 'x' },
    });
    expect(task.status).toBe(202);

    const del = await request(api.url, 'DELETE', `/v1/personas/${id}`);
    expect(del.status).toBe(204);
    expect((await request(api.url, 'DELETE', `/v1/personas/${id}`)).status).toBe(204);

    const got = await request(api.url, 'GET', `/v1/personas/${id}`);
    expect(got.body.archived_at).not.toBeNull();
    expect(await countRows(pool, 'tasks', 'persona_id = $1', [id])).toBe(1);

    const refused = await request(api.url, 'POST', '/v1/tasks', {
      body: { persona_id: id, task_type: 'generate_post', topic: 'x' },
    });
    expect(refused.status).toBe(422);

    const listed = await request(api.url, 'GET', '/v1/personas?limit=100');
    expect(listed.body.data.map((p: { id: string }) => p.id)).not.toContain(id);
    const withArchived = await request(api.url, 'GET', '/v1/personas?limit=100&include_archived=true');
    expect(withArchived.body.data.map((p: { id: string }) => p.id)).toContain(id);

    const patch = await request(api.url, 'PATCH', `/v1/personas/${id}`, { body: { name: 'x' } });
    expect(patch.status).toBe(409);
  });

  it('pages through personas by id', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: JsonResponse = await request(
        api.url,
        'GET',
        `/v1/personas?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(res.status).toBe(200);
      seen.push(...res.body.data.map((p: { id: string }) => p.id));
      cursor = res.body.next_cursor;
    } while (cursor);
    const { rows } = await pool.query(
      'SELECT id FROM personas WHERE archived_at IS NULL ORDER BY id COLLATE "C"',
    );
    expect(seen).toEqual(rows.map((r: { id: string }) => r.id));
  });
});
