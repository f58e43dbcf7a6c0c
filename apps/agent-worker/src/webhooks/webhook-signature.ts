import { createHmac } from 'node:crypto';

/** The Standard Webhooks headers (https://www.standardwebhooks.com). */
export const WEBHOOK_ID_HEADER = 'webhook-id';
export const WEBHOOK_TIMESTAMP_HEADER = 'webhook-timestamp';
export const WEBHOOK_SIGNATURE_HEADER = 'webhook-signature';

/**
 * The webhook-signature value: "v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>" for each
 * key, separated by spaces. Signing the id and timestamp with the body lets a receiver reject a
 * replayed or re-labelled delivery; a receiver accepts when any one signature matches, which is
 * what lets a secret be rotated without downtime. Receivers verify with a Standard Webhooks
 * library (docs/worker.md); the tests do too.
 */
export function signWebhook(keys: readonly Buffer[], id: string, timestamp: number, body: string): string {
  const content = `${id}.${timestamp}.${body}`;
  return keys.map((key) => `v1,${createHmac('sha256', key).update(content).digest('base64')}`).join(' ');
}
