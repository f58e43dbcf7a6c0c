import { startOrchestrator, type RunningApp } from '../../../test/support/apps';
import { request } from '../../../test/support/http';

describe('OpenAPI docs and liveness', () => {
  let api: RunningApp;
  beforeAll(async () => {
    api = await startOrchestrator();
  });
  afterAll(() => api.close());

  it('serves Swagger UI at /docs', async () => {
    const res = await request(api.url, 'GET', '/docs');
    expect(res.status).toBe(200);
    expect(String(res.body)).toContain('swagger');
  });

  it('documents every /v1 endpoint with request schemas and error responses', async () => {
    const res = await request(api.url, 'GET', '/docs-json');
    expect(res.status).toBe(200);
    const doc = res.body;
    expect(doc.openapi).toMatch(/^3\./);
    const expected: Array<[string, string, string[]]> = [
      ['/v1/tasks', 'post', ['202', '200', '400', '413', '422', '503']],
      ['/v1/tasks', 'get', ['200', '400']],
      ['/v1/tasks/{id}', 'get', ['200', '400', '404']],
      ['/v1/tasks/{id}/cancel', 'post', ['200', '404', '409']],
      ['/v1/tasks/{id}/retry', 'post', ['202', '404', '409']],
      ['/v1/personas', 'post', ['201', '400', '409']],
      ['/v1/personas', 'get', ['200']],
      ['/v1/personas/{id}', 'get', ['200', '404']],
      ['/v1/personas/{id}', 'patch', ['200', '404', '409']],
      ['/v1/personas/{id}', 'delete', ['204', '404']],
      ['/v1/posts', 'get', ['200']],
      ['/v1/posts/{id}', 'get', ['200', '404']],
    ];
    for (const [path, method, statuses] of expected) {
      const op = doc.paths[path]?.[method];
      expect({ path, method, documented: Boolean(op) }).toEqual({ path, method, documented: true });
      expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(statuses));
    }
    expect(doc.paths['/v1/tasks'].post.requestBody.content['application/json'].schema.$ref).toBe(
      '#/components/schemas/CreateTaskDto',
    );
    expect(doc.components.schemas.CreateTaskDto.required).toEqual(
      expect.arrayContaining(['persona_id', 'task_type']),
    );
    expect(doc.components.schemas.ErrorBody.properties).toHaveProperty('details');
  });

  it('answers /health/live without touching dependencies', async () => {
    const res = await request(api.url, 'GET', '/health/live');
    expect(res).toMatchObject({ status: 200, body: { status: 'ok' } });
  });

  it('answers unknown routes with the standard 404 body', async () => {
    const res = await request(api.url, 'GET', '/v2/nothing');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ statusCode: 404, error: 'Not Found', message: 'Cannot GET /v2/nothing' });
  });
});
