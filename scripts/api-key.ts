// `npm run api-key -- <name> [tier] [scope,scope,...]`: mints a random API key and prints the secret
// (give it to the client, once) and the API_KEYS entry (only its SHA-256) to configure.
import { API_SCOPES } from '@app/platform/config/protection.env';
import { apiKeysEnv, mintApiKey } from '../tools/stack';

const [name, tier = 'default', scopeList = 'tasks:read,tasks:write'] = process.argv.slice(2);
const scopes = scopeList
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
const unknown = scopes.filter((s) => !(API_SCOPES as readonly string[]).includes(s));
if (!name || !/^[A-Za-z0-9_.-]{1,64}$/.test(name) || unknown.length) {
  console.error(
    `${unknown.length ? `unknown scope(s): ${unknown.join(', ')} (known: ${API_SCOPES.join(', ')})\n` : ''}` +
      'usage: npm run api-key -- <name> [tier] [scope,scope,...]  (name: letters, digits, "_", "." or "-")',
  );
  process.exit(2);
}
const key = mintApiKey(name, tier, scopes);
console.log(`secret (X-API-Key; shown once, store it in the client's secret store):\n  ${key.key}`);
console.log(`API_KEYS entry (add it to the JSON array):\n  ${apiKeysEnv([key]).slice(1, -1)}`);
