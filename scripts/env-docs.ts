// `npm run env:docs`: regenerates .env.example and the configuration table in docs/configuration.md from the
// env schema.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderEnvExample, renderEnvTable } from '@app/platform';

export const ROOT = join(__dirname, '..');
export const CONFIGURATION_DOC = join(ROOT, 'docs', 'configuration.md');
export const TABLE_START = '<!-- env-table:start -->';
export const TABLE_END = '<!-- env-table:end -->';

export function docWithTable(doc: string): string {
  const start = doc.indexOf(TABLE_START);
  const end = doc.indexOf(TABLE_END);
  if (start < 0 || end < start)
    throw new Error(`docs/configuration.md must contain ${TABLE_START} ... ${TABLE_END}`);
  return `${doc.slice(0, start + TABLE_START.length)}\n${renderEnvTable()}\n${doc.slice(end)}`;
}

if (require.main === module) {
  writeFileSync(join(ROOT, '.env.example'), renderEnvExample());
  writeFileSync(CONFIGURATION_DOC, docWithTable(readFileSync(CONFIGURATION_DOC, 'utf8')));
  console.log('wrote .env.example and the table in docs/configuration.md');
}
