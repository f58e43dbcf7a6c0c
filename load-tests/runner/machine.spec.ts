import { commandLine, redactArgs, redactUrl } from './machine';
import { generateApiKeys, llmSimEnv } from './stack';
import { createHash } from 'node:crypto';

describe('what goes into a report', () => {
  it('masks credentials in the recorded command', () => {
    expect(redactUrl('postgres://postgres:s3cret@db:5432/x')).toBe('postgres://postgres:***@db:5432/x');
    expect(
      redactArgs(['--api-key', 'abc', '--env', 'LLM_API_KEY=xyz', '--env', 'DB_POOL_MAX=5', '--api-key=def']),
    ).toEqual(['--api-key', '***', '--env', 'LLM_API_KEY=***', '--env', 'DB_POOL_MAX=5', '--api-key=***']);
    expect(commandLine('load-test', ['--scenario', 'quick', '--database-url', 'postgres://u:p@h/db'])).toBe(
      "npm run load-test -- --scenario quick --database-url 'postgres://u:***@h/db'",
    );
    expect(commandLine('bench', [])).toBe('npm run bench');
  });

  it('generates API keys whose API_KEYS entry holds only the sha256', () => {
    const { keys, apiKeysEnv } = generateApiKeys(2, 'loadtest', 'r1');
    const entries = JSON.parse(apiKeysEnv);
    expect(entries).toHaveLength(2);
    expect(entries[0]).toMatchObject({
      name: 'load-r1-1',
      tier: 'loadtest',
      sha256: createHash('sha256').update(keys[0].key).digest('hex'),
    });
    expect(entries[0].scopes).toEqual(
      expect.arrayContaining(['tasks:write', 'tasks:read', 'personas:admin']),
    );
    expect(apiKeysEnv).not.toContain(keys[0].key);
  });

  it('turns llm-sim knobs into LLM_SIM_* variables', () => {
    expect(llmSimEnv({ latencyMs: 200, errorRate: 0.01, LLM_SIM_OUTAGE: false })).toEqual({
      LLM_SIM_LATENCY_MS: '200',
      LLM_SIM_ERROR_RATE: '0.01',
      LLM_SIM_OUTAGE: 'false',
    });
  });
});
