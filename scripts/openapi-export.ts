// `npm run openapi:export`: writes openapi.json (the document the orchestrator serves at /docs-json)
// at the repository root. Needs neither Postgres nor Redis. `--stdout` prints it instead.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportOpenApiDocument, renderOpenApi } from '../apps/orchestrator/src/openapi/openapi.export';

export const OPENAPI_PATH = join(__dirname, '..', 'openapi.json');

async function main(): Promise<void> {
  const text = renderOpenApi(await exportOpenApiDocument());
  if (process.argv.includes('--stdout')) {
    process.stdout.write(text);
  } else {
    writeFileSync(OPENAPI_PATH, text);
    console.log(`wrote ${OPENAPI_PATH}`);
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exit(1);
  });
}
