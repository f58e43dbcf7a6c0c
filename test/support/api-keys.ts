import { API_SCOPES } from '@app/platform/config/protection.env';
import { apiKeysEnv as keysEnv, mintApiKey } from '../../tools/stack';

export interface TestKey {
  name: string;
  tier?: string;
  scopes: string[];
  /** The secret the client sends in X-API-Key. */
  secret: string;
}

/** A fresh random secret per test key, so a test can assert it never shows up anywhere. */
export function testKey(name: string, scopes: string[], tier = 'default'): TestKey {
  return { name, tier, scopes, secret: mintApiKey(name, tier, scopes, `ak_${name}`).key };
}

/** The API_KEYS value (hashes only) for these keys. */
export const apiKeysEnv = (keys: TestKey[]): string =>
  keysEnv(keys.map((k) => ({ name: k.name, tier: k.tier ?? 'default', scopes: k.scopes, key: k.secret })));

/** Every scope but `admin`, which opens the queue dashboard only. */
export const ALL_API_SCOPES: string[] = API_SCOPES.filter((s) => s !== 'admin');
