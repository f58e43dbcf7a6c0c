import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderEnvExample } from '@app/platform';
import { readmeWithTable, ROOT } from './env-docs';

describe('configuration docs stay in step with the env schema', () => {
  it('.env.example lists every variable with its default (run `npm run env:docs` after changing the schema)', () => {
    expect(readFileSync(join(ROOT, '.env.example'), 'utf8')).toBe(renderEnvExample());
  });

  it('the README configuration table matches the schema (run `npm run env:docs`)', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readme).toBe(readmeWithTable(readme));
  });
});
