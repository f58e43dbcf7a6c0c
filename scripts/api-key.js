// `npm run api-key -- <name> [tier] [scope,scope,...]`: mints a random API key and prints the
// secret (give it to the client, once) and the API_KEYS entry (only its SHA-256) to configure.
const { createHash, randomBytes } = require('node:crypto');

const [name, tier = 'default', scopes = 'tasks:read,tasks:write'] = process.argv.slice(2);
if (!name || !/^[A-Za-z0-9_.-]{1,64}$/.test(name)) {
  console.error(
    'usage: npm run api-key -- <name> [tier] [scope,scope,...]  (name: letters, digits, "_", "." or "-")',
  );
  process.exit(2);
}
const secret = `ak_${randomBytes(32).toString('base64url')}`;
const entry = {
  name,
  tier,
  scopes: scopes
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
  sha256: createHash('sha256').update(secret).digest('hex'),
};
console.log(`secret (X-API-Key; shown once, store it in the client's secret store):\n  ${secret}`);
console.log(`API_KEYS entry (add it to the JSON array):\n  ${JSON.stringify(entry)}`);
