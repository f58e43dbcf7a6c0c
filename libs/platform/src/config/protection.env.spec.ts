import { loadConfig } from './load-config';

const key = (extra: Record<string, unknown> = {}) => ({
  name: 'ci',
  tier: 'default',
  scopes: ['tasks:read'],
  sha256: 'a'.repeat(64),
  ...extra,
});

describe('protection settings (API_KEYS, RATE_LIMIT_TIERS, TRUST_PROXY, CORS_ORIGINS)', () => {
  it('defaults to auth off, the seed limits, no proxy trust and CORS off', () => {
    const env = loadConfig({});
    expect(env.API_KEYS).toEqual([]);
    expect(env.RATE_LIMIT_TIERS.default).toEqual({ per_minute: 600, burst_per_second: 50 });
    expect(env.RATE_LIMIT_TIERS.loadtest.per_minute).toBeGreaterThan(100_000);
    expect(env.MAX_IN_FLIGHT).toBe(200);
    expect(env.TRUST_PROXY).toBe(false);
    expect(env.CORS_ORIGINS).toEqual([]);
  });

  it('parses API keys and lower-cases their hashes', () => {
    const env = loadConfig({ API_KEYS: JSON.stringify([key({ sha256: 'A'.repeat(64) })]) });
    expect(env.API_KEYS).toEqual([
      { name: 'ci', tier: 'default', scopes: ['tasks:read'], sha256: 'a'.repeat(64) },
    ]);
  });

  it.each([
    ['not JSON', '[{', /API_KEYS: must be JSON/],
    ['an unknown scope', JSON.stringify([key({ scopes: ['root'] })]), /API_KEYS\.0\.scopes\.0/],
    ['no scopes', JSON.stringify([key({ scopes: [] })]), /scopes must list at least one scope/],
    ['a short hash', JSON.stringify([key({ sha256: 'abc' })]), /sha256 must be the 64-hex-digit SHA-256/],
    ['a plaintext key field', JSON.stringify([key({ key: 'secret' })]), /API_KEYS\.0/],
  ])('names API_KEYS when it holds %s', (_name, value, message) => {
    expect(() => loadConfig({ API_KEYS: value })).toThrow(message);
  });

  it('requires a default tier and whole positive limits', () => {
    expect(() => loadConfig({ RATE_LIMIT_TIERS: '{"gold":{"per_minute":1,"burst_per_second":1}}' })).toThrow(
      /RATE_LIMIT_TIERS: must include a "default" tier/,
    );
    expect(() =>
      loadConfig({ RATE_LIMIT_TIERS: '{"default":{"per_minute":0,"burst_per_second":1}}' }),
    ).toThrow(/RATE_LIMIT_TIERS\.default\.per_minute/);
  });

  it.each([
    ['true', true],
    ['false', false],
    ['2', 2],
    ['10.0.0.0/8, loopback', '10.0.0.0/8,loopback'],
  ])('reads TRUST_PROXY=%s', (value, expected) => {
    expect(loadConfig({ TRUST_PROXY: value }).TRUST_PROXY).toEqual(expected);
  });

  it('refuses a TRUST_PROXY that is not a setting, and CORS_ORIGINS that are not origins', () => {
    expect(() => loadConfig({ TRUST_PROXY: 'everyone' })).toThrow(/TRUST_PROXY: must be true, false/);
    expect(() => loadConfig({ CORS_ORIGINS: 'https://app.example.com/path' })).toThrow(/CORS_ORIGINS: /);
    expect(loadConfig({ CORS_ORIGINS: 'https://a.example.com, http://localhost:3000' }).CORS_ORIGINS).toEqual(
      ['https://a.example.com', 'http://localhost:3000'],
    );
  });
});
