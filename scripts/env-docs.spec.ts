import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderEnvExample } from '@app/platform';
import { CONFIGURATION_DOC, docWithTable, ROOT } from './env-docs';

describe('configuration docs stay in step with the env schema', () => {
  it('.env.example lists every variable with its default (run `npm run env:docs` after changing the schema)', () => {
    expect(readFileSync(join(ROOT, '.env.example'), 'utf8')).toBe(renderEnvExample());
  });

  it('the table in docs/configuration.md matches the schema (run `npm run env:docs`)', () => {
    const doc = readFileSync(CONFIGURATION_DOC, 'utf8');
    expect(doc).toBe(docWithTable(doc));
  });
});
