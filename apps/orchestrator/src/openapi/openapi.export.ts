import { loadConfig, type AppEnv } from '@app/platform';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { OpenAPIObject } from '@nestjs/swagger';
import { AppModule } from '../app.module';
import { buildOpenApiDocument } from './openapi.document';

/**
 * The document the orchestrator serves at /docs-json, built without Postgres or Redis: Nest's
 * preview mode scans the module graph and creates no provider, so no connection is opened, and
 * the Swagger explorer needs only controller metadata. The configuration defaults to the
 * defaults: the document does not depend on it.
 */
export async function exportOpenApiDocument(env: AppEnv = loadConfig({})): Promise<OpenAPIObject> {
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(env), new FastifyAdapter(), {
    preview: true,
    logger: false,
  });
  try {
    return buildOpenApiDocument(app);
  } finally {
    await app.close();
  }
}

/** openapi.json as committed: two-space JSON with a final newline. */
export function renderOpenApi(doc: OpenAPIObject): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}
