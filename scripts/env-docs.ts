// `npm run env:docs`: regenerates .env.example and the README configuration table from the env schema.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderEnvExample, renderEnvTable } from '@app/platform';

export const ROOT = join(__dirname, '..');
export const TABLE_START = '<!-- env-table:start -->';
export const TABLE_END = '<!-- env-table:end -->';

export function readmeWithTable(readme: string): string {
  const start = readme.indexOf(TABLE_START);
  const end = readme.indexOf(TABLE_END);
  if (start < 0 || end < start) throw new Error(`README.md must contain ${TABLE_START} ... ${TABLE_END}`);
  return `${readme.slice(0, start + TABLE_START.length)}\n${renderEnvTable()}\n${readme.slice(end)}`;
}

if (require.main === module) {
  writeFileSync(join(ROOT, '.env.example'), renderEnvExample());
  const readmePath = join(ROOT, 'README.md');
  writeFileSync(readmePath, readmeWithTable(readFileSync(readmePath, 'utf8')));
  console.log('wrote .env.example and the README configuration table');
}
