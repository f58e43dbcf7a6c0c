import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-signature';
export const TIMESTAMP_HEADER = 'x-webhook-timestamp';
export const WEBHOOK_ID_HEADER = 'x-webhook-id';

/**
 * X-Signature: "sha256=" + hex HMAC-SHA256(secret, "<timestamp>.<raw body>"). Signing the
 * timestamp with the body lets a receiver reject replays of an old delivery (see verify below).
 */
export function signWebhook(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * What a receiver does: recompute the signature over the raw body and the X-Webhook-Timestamp
 * header, compare in constant time, and refuse a timestamp older than `toleranceS`.
 */
export function verifyWebhookSignature(
  secret: string,
  body: string,
  timestampHeader: string | undefined,
  signatureHeader: string | undefined,
  toleranceS = 300,
  nowS = Math.floor(Date.now() / 1000),
): boolean {
  if (!timestampHeader || !signatureHeader || !/^\d+$/.test(timestampHeader)) return false;
  const timestamp = Number(timestampHeader);
  if (Math.abs(nowS - timestamp) > toleranceS) return false;
  const expected = Buffer.from(signWebhook(secret, timestamp, body));
  const given = Buffer.from(signatureHeader);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
