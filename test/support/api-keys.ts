import { createHash, randomBytes } from 'node:crypto';

export interface TestKey {
  name: string;
  tier?: string;
  scopes: string[];
  /** The secret the client sends in X-API-Key. */
  secret: string;
}

/** A fresh random secret per test key, so a test can assert it never shows up anywhere. */
export function testKey(name: string, scopes: string[], tier = 'default'): TestKey {
  return { name, tier, scopes, secret: `ak_${name}_${randomBytes(18).toString('base64url')}` };
}

/** The API_KEYS value (hashes only) for these keys. */
export function apiKeysEnv(keys: TestKey[]): string {
  return JSON.stringify(
    keys.map((k) => ({
      name: k.name,
      tier: k.tier ?? 'default',
      scopes: k.scopes,
      sha256: createHash('sha256').update(k.secret).digest('hex'),
    })),
  );
}

export const ALL_API_SCOPES = ['tasks:read', 'tasks:write', 'personas:read', 'personas:admin'];
