import type { INestApplication } from '@nestjs/common';
import {
  DocumentBuilder,
  SwaggerModule,
  type HeaderObject,
  type OpenAPIObject,
  type ParameterObject,
  type ReferenceObject,
  type ResponseObject,
} from '@nestjs/swagger';
import { API_KEY_SECURITY } from './api-responses';

const DESCRIPTION = `Submit agent tasks for a persona, follow them to completion and read the posts they produce.

- **Errors** have one shape, \`{statusCode, error, message, details?}\`; \`details\` names each failing field.
- **Auth**: when the deployment configures API keys, send one in \`X-API-Key\`; each operation lists the scope it needs.
  Keys are minted, listed, rotated and revoked through \`/v1/admin/api-keys\` (scope \`admin\`).
- **Tenants**: every key belongs to a tenant, and every task, post and custom persona too. A key sees only its
  tenant's records (plus the global personas, read-only). **Another tenant's id answers 404, exactly like an id that
  does not exist, never 403**, so ids cannot be probed. A key with the \`admin\` scope sees every tenant's records;
  \`?tenant=\` on a list narrows it to one.
- **Rate limits** are per client (API key, else IP). Responses that passed the limiter carry \`X-RateLimit-Limit\`,
  \`X-RateLimit-Remaining\` and \`X-RateLimit-Reset\`; a \`429\` carries \`Retry-After\` too.
- **503** means "retry shortly" (a busy replica or a dependency down) and always carries \`Retry-After\`.
- **X-Request-ID**: every response carries one (yours if you sent a plain one, else a new UUID); quote it when
  reporting a problem.
- **Idempotency-Key** on \`POST /v1/tasks\` makes a retried submission safe.`;

/** Headers that hooks add to responses of every route; referenced from each response below. */
const HEADERS: Record<string, HeaderObject> = {
  'X-Request-ID': {
    description:
      "The request's id: the caller's X-Request-ID when it is 1-128 characters of [A-Za-z0-9._:-], else a new UUID. " +
      'It is in the logs and is stored with a created task (request_id).',
    required: true,
    schema: { type: 'string', example: '6dfe0a34-1bc7-47bc-8ded-bf4ae520982d' },
  },
  'Retry-After': {
    description: 'Seconds to wait before retrying.',
    required: true,
    schema: { type: 'integer', minimum: 1, example: 1 },
  },
  'X-RateLimit-Limit': {
    description:
      "Requests allowed in the client's tightest rate-limit window (absent when rate limiting is off).",
    schema: { type: 'integer', example: 50 },
  },
  'X-RateLimit-Remaining': {
    description: 'Requests left in that window.',
    schema: { type: 'integer', example: 49 },
  },
  'X-RateLimit-Reset': {
    description: 'Seconds until that window resets.',
    schema: { type: 'integer', example: 1 },
  },
};

const REQUEST_ID_PARAMETER: ParameterObject = {
  name: 'X-Request-ID',
  in: 'header',
  required: false,
  description:
    'Your id for this request (1-128 characters of [A-Za-z0-9._:-]); echoed in the response and logs.',
  schema: { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,128}$' },
};

const ref = (name: string): ReferenceObject => ({ $ref: `#/components/headers/${name}` });
const RATE_LIMIT_HEADERS = ['X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset'];

/**
 * Adds the headers the HTTP layer sends on every /v1 route: X-Request-ID on every response (an
 * onSend hook), X-RateLimit-* on responses that passed the limiter (2xx, and the 429 itself),
 * Retry-After on 429 and 503, and the optional X-Request-ID request header.
 */
function documentProtocolHeaders(doc: OpenAPIObject): void {
  doc.components = { ...doc.components, headers: HEADERS };
  doc.components.parameters = { ...doc.components.parameters, 'X-Request-ID': REQUEST_ID_PARAMETER };
  for (const [path, item] of Object.entries(doc.paths)) {
    if (!path.startsWith('/v1/')) continue;
    for (const method of ['get', 'post', 'put', 'patch', 'delete'] as const) {
      const operation = item[method];
      if (!operation) continue;
      operation.parameters = [
        ...(operation.parameters ?? []),
        { $ref: '#/components/parameters/X-Request-ID' },
      ];
      for (const [status, response] of Object.entries(operation.responses)) {
        const code = Number(status);
        const headers: Record<string, ReferenceObject> = { 'X-Request-ID': ref('X-Request-ID') };
        if ((code >= 200 && code < 300) || code === 429) {
          for (const name of RATE_LIMIT_HEADERS) headers[name] = ref(name);
        }
        if (code === 429 || code === 503) headers['Retry-After'] = ref('Retry-After');
        const res = response as ResponseObject;
        res.headers = { ...res.headers, ...headers };
      }
    }
  }
}

/**
 * The OpenAPI document the app serves at /docs-json. It is built from controller metadata only,
 * so `npm run openapi:export` can build the same one from an app that never connects.
 */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('agent-platform')
    .setDescription(DESCRIPTION)
    .setVersion('1')
    .setLicense('UNLICENSED (proprietary)', 'https://docs.npmjs.com/cli/configuring-npm/package-json#license')
    .addServer('/', 'The origin that serves this document')
    .addServer('http://127.0.0.1:8080', 'A local `npm start` or `docker compose up`')
    .addTag('tasks', 'Submit a task for a persona, follow it (long-poll), cancel or retry it.')
    .addTag('personas', 'Agent configurations: system prompt, model and sampling settings.')
    .addTag('posts', 'What succeeded tasks produced.')
    .addApiKey({ type: 'apiKey', in: 'header', name: 'X-API-Key' }, API_KEY_SECURITY)
    .build();
  const doc = SwaggerModule.createDocument(app, config);
  documentProtocolHeaders(doc);
  return doc;
}

/** Swagger UI at /docs, OpenAPI 3 JSON at /docs-json. */
export function setupSwagger(app: INestApplication): void {
  SwaggerModule.setup('docs', app, () => buildOpenApiDocument(app), { jsonDocumentUrl: 'docs-json' });
}
