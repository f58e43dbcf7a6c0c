/**
 * Standard Webhooks secrets: "whsec_" + base64 of 24 to 64 random bytes (the spec's bounds); the
 * HMAC key is the decoded bytes. WEBHOOK_SECRET holds one or more, separated by spaces, so a
 * secret can be rotated without downtime: every listed secret signs each delivery.
 */
export const WEBHOOK_SECRET_PREFIX = 'whsec_';
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const MIN_KEY_BYTES = 24;
const MAX_KEY_BYTES = 64;

/** The signing keys of a WEBHOOK_SECRET value (none when it is empty); throws naming the bad entry. */
export function webhookSigningKeys(value: string): Buffer[] {
  const secrets = value.split(/\s+/).filter((s) => s !== '');
  return secrets.map((secret, i) => {
    const which = secrets.length > 1 ? `secret ${i + 1}` : 'the secret';
    if (!secret.startsWith(WEBHOOK_SECRET_PREFIX)) {
      throw new Error(
        `${which} must start with "${WEBHOOK_SECRET_PREFIX}" (Standard Webhooks); make one with: echo whsec_$(openssl rand -base64 32)`,
      );
    }
    const encoded = secret.slice(WEBHOOK_SECRET_PREFIX.length);
    if (!BASE64.test(encoded)) throw new Error(`${which} must be base64 after "${WEBHOOK_SECRET_PREFIX}"`);
    const key = Buffer.from(encoded, 'base64');
    if (key.length < MIN_KEY_BYTES || key.length > MAX_KEY_BYTES) {
      throw new Error(`${which} must decode to ${MIN_KEY_BYTES}-${MAX_KEY_BYTES} bytes, not ${key.length}`);
    }
    return key;
  });
}
