import { loadConfig } from '@app/platform';
import { createConfig, lintFromString } from '@redocly/openapi-core';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { exportOpenApiDocument, renderOpenApi } from './openapi.export';

const ROOT = join(__dirname, '..', '..', '..', '..');
const committed = readFileSync(join(ROOT, 'openapi.json'), 'utf8');
const doc = JSON.parse(committed);

/** The SDK method name of every /v1 operation. */
const OPERATION_IDS: Record<string, string> = {
  'post /v1/tasks': 'createTask',
  'get /v1/tasks': 'listTasks',
  'get /v1/tasks/{id}': 'getTask',
  'get /v1/tasks/{id}/events': 'streamTaskEvents',
  'post /v1/tasks/{id}/cancel': 'cancelTask',
  'post /v1/tasks/{id}/retry': 'retryTask',
  'post /v1/personas': 'createPersona',
  'get /v1/personas': 'listPersonas',
  'get /v1/personas/{id}': 'getPersona',
  'patch /v1/personas/{id}': 'updatePersona',
  'delete /v1/personas/{id}': 'deletePersona',
  'get /v1/posts': 'listPosts',
  'get /v1/posts/{id}': 'getPost',
  'post /v1/admin/api-keys': 'createApiKey',
  'get /v1/admin/api-keys': 'listApiKeys',
  'delete /v1/admin/api-keys/{id}': 'revokeApiKey',
  'post /v1/admin/api-keys/{id}/rotate': 'rotateApiKey',
  'get /v1/usage': 'getUsage',
};

interface Operation {
  key: string;
  operationId: string;
  requestBody?: unknown;
  responses: Record<string, { description?: string; headers?: Record<string, unknown>; content?: any }>;
}

const operations: Operation[] = Object.entries(doc.paths as Record<string, Record<string, any>>).flatMap(
  ([path, item]) => Object.entries(item).map(([method, op]) => ({ key: `${method} ${path}`, ...op })),
);

describe('openapi.json', () => {
  it('is what `npm run openapi:export` writes, built without Postgres or Redis', async () => {
    // Nothing listens on port 1: a builder that tried to connect would fail or hang here.
    const offline = loadConfig({
      DATABASE_URL: 'postgres://postgres:postgres@127.0.0.1:1/none',
      REDIS_URL: 'redis://127.0.0.1:1',
    });
    expect(renderOpenApi(await exportOpenApiDocument(offline))).toBe(committed);

    // The npm script itself (ts-node, as a developer runs it) prints the same bytes.
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        require.resolve('ts-node/dist/bin.js'),
        '--transpile-only',
        '-r',
        'tsconfig-paths/register',
        'scripts/openapi-export.ts',
        '--stdout',
      ],
      { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 },
    );
    expect(stdout).toBe(committed);
  }, 60_000);

  it("passes Redocly's recommended rules without an error or a warning", async () => {
    const config = await createConfig({ extends: ['recommended'] });
    const problems = await lintFromString({ source: committed, absoluteRef: 'openapi.json', config });
    expect(problems.map((p) => `${p.severity} ${p.ruleId}: ${p.message}`)).toEqual([]);
  });

  it('names every /v1 operation like an SDK method', () => {
    expect(Object.fromEntries(operations.map((op) => [op.key, op.operationId]))).toEqual(OPERATION_IDS);
  });

  it('has servers, a license, and a description on every response', () => {
    expect(doc.servers.length).toBeGreaterThan(0);
    expect(doc.info.license).toEqual({ name: expect.any(String), url: expect.stringMatching(/^https:/) });
    for (const op of operations) {
      for (const [status, response] of Object.entries(op.responses)) {
        expect({ op: op.key, status, description: Boolean(response.description?.trim()) }).toEqual({
          op: op.key,
          status,
          description: true,
        });
      }
    }
  });

  it('documents the errors every operation can meet, each with one example of the error body', () => {
    for (const op of operations) {
      const expected = ['400', '401', '403', '429', '503'];
      if (op.key.includes('{id}')) expected.push('404');
      if (op.requestBody) expected.push('413', '415');
      expect({ op: op.key, statuses: Object.keys(op.responses) }).toEqual({
        op: op.key,
        statuses: expect.arrayContaining(expected),
      });
      for (const [status, response] of Object.entries(op.responses)) {
        if (Number(status) < 400) continue;
        const media = response.content['application/json'];
        expect(media.schema).toEqual({ $ref: '#/components/schemas/ErrorBody' });
        expect(media.examples).toBeUndefined();
        expect(media.example).toMatchObject({ statusCode: Number(status), message: expect.any(String) });
      }
    }
  });

  it('documents the headers: X-Request-ID everywhere, Retry-After and X-RateLimit-* on 429, Retry-After on 503, Location on 202', () => {
    const headerRef = (name: string) => ({ $ref: `#/components/headers/${name}` });
    for (const op of operations) {
      for (const [status, response] of Object.entries(op.responses)) {
        const headers = response.headers ?? {};
        expect({ op: op.key, status, requestId: headers['X-Request-ID'] }).toEqual({
          op: op.key,
          status,
          requestId: headerRef('X-Request-ID'),
        });
        if (status === '429') {
          for (const name of [
            'Retry-After',
            'X-RateLimit-Limit',
            'X-RateLimit-Remaining',
            'X-RateLimit-Reset',
          ]) {
            expect(headers[name]).toEqual(headerRef(name));
          }
        }
        if (status === '503') expect(headers['Retry-After']).toEqual(headerRef('Retry-After'));
        if (status === '202') expect(headers.Location).toMatchObject({ schema: { type: 'string' } });
      }
    }
    expect(doc.components.headers['Retry-After']).toMatchObject({ required: true });
    expect(doc.components.headers['X-Request-ID']).toMatchObject({ required: true });
  });
});
