// `npm run api-key -- <name> [tier] [scope,scope,...] [--tenant <tenant>] [--bootstrap]`: mints a
// random API key and prints its secret once (give it to the client).
// - By default the key goes into Postgres (api_keys, DATABASE_URL) through the same store as
//   POST /v1/admin/api-keys: it works at once on every replica, and can be listed, rotated and revoked.
// - --bootstrap stores nothing and prints the API_KEYS entry (only its SHA-256) instead: for the
//   first admin key, which turns authentication on.
import { apiKeySha256, insertApiKey, newApiKeySecret } from '@app/db';
import { loadConfig, newId } from '@app/platform';
import { API_SCOPES } from '@app/platform/config/protection.env';
import { Pool } from 'pg';

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const [, value] = args.splice(i, 2);
  return value;
};
const bootstrap = args.includes('--bootstrap');
if (bootstrap) args.splice(args.indexOf('--bootstrap'), 1);
const tenantArg = flag('--tenant');
const [name, tier = 'default', scopeList = 'tasks:read,tasks:write'] = args;
const tenant = tenantArg ?? name;
const scopes = scopeList
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
const unknown = scopes.filter((s) => !(API_SCOPES as readonly string[]).includes(s));
if (!name || !NAME.test(name) || !tenant || !NAME.test(tenant) || unknown.length) {
  console.error(
    `${unknown.length ? `unknown scope(s): ${unknown.join(', ')} (known: ${API_SCOPES.join(', ')})\n` : ''}` +
      'usage: npm run api-key -- <name> [tier] [scope,scope,...] [--tenant <tenant>] [--bootstrap]\n' +
      '  (name, tenant: letters, digits, "_", "." or "-"; tenant defaults to name)',
  );
  process.exit(2);
}

async function main(): Promise<void> {
  const secret = newApiKeySecret();
  const sha256 = apiKeySha256(secret);
  console.log(`secret (X-API-Key; shown once, store it in the client's secret store):\n  ${secret}`);
  if (bootstrap) {
    const entry = { name, tier, scopes, sha256, ...(tenant !== name && { tenant }) };
    console.log(`API_KEYS entry (add it to the JSON array):\n  ${JSON.stringify(entry)}`);
    return;
  }
  const env = loadConfig(process.env);
  const pool = new Pool({ connectionString: env.DATABASE_URL, max: 1 });
  try {
    const key = await insertApiKey(pool, {
      id: newId(),
      tenant,
      name,
      tier,
      scopes,
      keySha256: sha256,
      expiresAt: null,
    });
    console.log(`stored in api_keys: id ${key.id}, tenant ${key.tenant}, scopes ${key.scopes.join(',')}`);
  } finally {
    await pool.end();
  }
}

main().catch((err: Error) => {
  console.error(
    `could not store the key: ${err.message} (is DATABASE_URL migrated? --bootstrap stores nothing)`,
  );
  process.exit(1);
});
