import { isInternalAddress } from './address-policy';
import { signWebhook, verifyWebhookSignature } from './webhook-signature';
import { sendWebhook, WebhookDeliveryError } from './webhook-sender';

describe('webhook signature', () => {
  const secret = 'a-secret-of-enough-length';
  const body = '{"id":"evt","type":"task.succeeded"}';

  it('is HMAC-SHA256 of "<timestamp>.<body>", hex, with a sha256= prefix', () => {
    // echo -n '1700000000.{"id":"evt","type":"task.succeeded"}' | openssl dgst -sha256 -hmac a-secret-of-enough-length
    expect(signWebhook(secret, 1700000000, body)).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(signWebhook(secret, 1700000000, body)).not.toBe(signWebhook(secret, 1700000001, body));
  });

  it('verifies a fresh delivery and refuses tampering, another secret and replays', () => {
    const now = 1700000000;
    const sig = signWebhook(secret, now, body);
    expect(verifyWebhookSignature(secret, body, String(now), sig, 300, now + 10)).toBe(true);
    expect(verifyWebhookSignature(secret, `${body} `, String(now), sig, 300, now)).toBe(false);
    expect(verifyWebhookSignature('another-secret-value', body, String(now), sig, 300, now)).toBe(false);
    expect(verifyWebhookSignature(secret, body, String(now), sig, 300, now + 301)).toBe(false);
    expect(verifyWebhookSignature(secret, body, undefined, sig)).toBe(false);
    expect(verifyWebhookSignature(secret, body, String(now), 'sha256=00', 300, now)).toBe(false);
  });
});

describe('webhook address policy', () => {
  it.each([
    '127.0.0.1',
    '10.1.2.3',
    '172.20.0.1',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '::1',
    'fd00::1',
    'fe80::1',
    '::ffff:127.0.0.1',
    'not-an-ip',
  ])('%s is internal', (address) => expect(isInternalAddress(address)).toBe(true));

  it.each(['93.184.216.34', '8.8.8.8', '2606:4700:4700::1111', '::ffff:8.8.8.8'])('%s is public', (address) =>
    expect(isInternalAddress(address)).toBe(false),
  );

  it('refuses an internal literal or a name resolving to one, before any request, as a permanent failure', async () => {
    for (const url of ['http://127.0.0.1:9/hook', 'http://[::1]:9/hook', 'http://localhost:9/hook']) {
      const err = await sendWebhook(url, '{}', {}, { timeoutMs: 1000, allowPrivateAddresses: false }).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(WebhookDeliveryError);
      expect((err as WebhookDeliveryError).permanent).toBe(true);
      expect((err as Error).message).toMatch(/resolves to internal address/);
    }
  });

  it('refuses a non-http URL', async () => {
    const err = await sendWebhook(
      'ftp://example.com/x',
      '{}',
      {},
      { timeoutMs: 1000, allowPrivateAddresses: true },
    ).catch((e: unknown) => e);
    expect(err).toMatchObject({ permanent: true, message: 'callback_url must be http(s), not ftp:' });
  });
});
