import { createHash } from 'node:crypto';
import { commandLine, redactArgs, redactUrl } from './report';
import { apiKeysEnv, llmSimEnv, mintApiKey, requireHaproxy } from './stack';

describe('the stack helpers every tool shares', () => {
  it('mints API keys whose API_KEYS entry holds only the sha256, with every scope by default', () => {
    const keys = [mintApiKey('load-1', 'loadtest'), mintApiKey('reader', 'default', ['tasks:read'])];
    const entries = JSON.parse(apiKeysEnv(keys));
    expect(entries[0]).toEqual({
      name: 'load-1',
      tier: 'loadtest',
      scopes: ['tasks:read', 'tasks:write', 'personas:read', 'personas:admin', 'admin'],
      sha256: createHash('sha256').update(keys[0].key).digest('hex'),
    });
    expect(entries[1].scopes).toEqual(['tasks:read']);
    expect(keys[0].key).toMatch(/^ak_[\w-]{32}$/);
    expect(apiKeysEnv(keys)).not.toContain(keys[0].key);
  });

  it('turns llm-sim knobs into LLM_SIM_* variables', () => {
    expect(llmSimEnv({ latencyMs: 200, errorRate: 0.01, LLM_SIM_OUTAGE: false })).toEqual({
      LLM_SIM_LATENCY_MS: '200',
      LLM_SIM_ERROR_RATE: '0.01',
      LLM_SIM_OUTAGE: 'false',
    });
  });

  it('says how to install HAProxy when it is missing', () => {
    expect(() => requireHaproxy({ PATH: '/nonexistent' })).toThrow(
      'haproxy is not installed: apt-get update && apt-get install -y haproxy (see load-tests/README.md)',
    );
  });

  it('masks credentials in the command a report records', () => {
    expect(redactUrl('postgres://postgres:s3cret@db:5432/x')).toBe('postgres://postgres:***@db:5432/x');
    expect(
      redactArgs(['--api-key', 'abc', '--env', 'LLM_API_KEY=xyz', '--env', 'DB_POOL_MAX=5', '--api-key=def']),
    ).toEqual(['--api-key', '***', '--env', 'LLM_API_KEY=***', '--env', 'DB_POOL_MAX=5', '--api-key=***']);
    expect(commandLine('load-test', ['--scenario', 'quick', '--database-url', 'postgres://u:p@h/db'])).toBe(
      "npm run load-test -- --scenario quick --database-url 'postgres://u:***@h/db'",
    );
    expect(commandLine('bench', [])).toBe('npm run bench');
  });
});
