import { webhookSigningKeys } from '@app/platform';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { isInternalAddress } from './address-policy';
import { signWebhook } from './webhook-signature';
import { sendWebhook, WebhookDeliveryError } from './webhook-sender';

describe('webhook signature (Standard Webhooks)', () => {
  const current = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
  const previous = `whsec_${Buffer.alloc(24, 9).toString('base64')}`;
  const body = '{"id":"evt","type":"task.succeeded"}';
  const id = '0193f0a4-7c1e-4d2a-9b1c-2f6f0e8d4a11';
  const now = Math.floor(Date.now() / 1000);
  const headers = (signature: string, timestamp = now) => ({
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signature,
  });

  it('is "v1,<base64 HMAC-SHA256 of id.timestamp.body>", as the reference library signs it', () => {
    const signature = signWebhook(webhookSigningKeys(current), id, now, body);
    expect(signature).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    expect(signature).toBe(new Webhook(current).sign(id, new Date(now * 1000), body));
  });

  it('verifies with the reference library; a changed body, id, timestamp or secret does not', () => {
    const sign = (timestamp = now) => signWebhook(webhookSigningKeys(current), id, timestamp, body);
    const receiver = new Webhook(current);
    expect(receiver.verify(body, headers(sign()))).toEqual(JSON.parse(body));
    expect(() => receiver.verify(`${body} `, headers(sign()))).toThrow(WebhookVerificationError);
    expect(() => receiver.verify(body, { ...headers(sign()), 'webhook-id': `${id}x` })).toThrow(
      'No matching signature found',
    );
    expect(() => receiver.verify(body, headers(sign(), now + 1))).toThrow('No matching signature found');
    expect(() => new Webhook(previous).verify(body, headers(sign()))).toThrow('No matching signature found');
    // A delivery older than the library's five minutes is a replay.
    expect(() => receiver.verify(body, headers(sign(now - 600), now - 600))).toThrow(
      'Message timestamp too old',
    );
  });

  it('signs with every secret of WEBHOOK_SECRET, so receivers on either side of a rotation verify', () => {
    const signature = signWebhook(webhookSigningKeys(`${current} ${previous}`), id, now, body);
    expect(signature.split(' ')).toHaveLength(2);
    expect(new Webhook(current).verify(body, headers(signature))).toBeTruthy();
    expect(new Webhook(previous).verify(body, headers(signature))).toBeTruthy();
  });

  it('takes only whsec_ secrets of 24-64 bytes, naming the bad one', () => {
    expect(webhookSigningKeys('')).toEqual([]);
    expect(webhookSigningKeys(`  ${current}  `)).toEqual([Buffer.alloc(32, 7)]);
    expect(() => webhookSigningKeys('a-plain-secret-of-enough-length')).toThrow(/must start with "whsec_"/);
    expect(() => webhookSigningKeys(`${current} whsec_not*base64`)).toThrow(/secret 2 must be base64/);
    expect(() => webhookSigningKeys(`whsec_${Buffer.alloc(16).toString('base64')}`)).toThrow(
      'the secret must decode to 24-64 bytes, not 16',
    );
  });
});

describe('webhook address policy', () => {
  // One address per range the policy refuses, and what the range is.
  it.each([
    ['0.0.0.0', 'this network'],
    ['127.0.0.1', 'loopback'],
    ['10.1.2.3', 'private 10/8'],
    ['172.20.0.1', 'private 172.16/12'],
    ['192.168.1.1', 'private 192.168/16'],
    ['100.64.0.1', 'carrier-grade NAT 100.64/10'],
    ['169.254.169.254', 'link-local (cloud metadata)'],
    ['192.0.0.8', 'IETF protocol assignments 192.0.0/24'],
    ['192.0.2.1', 'TEST-NET-1'],
    ['198.51.100.1', 'TEST-NET-2'],
    ['203.0.113.1', 'TEST-NET-3'],
    ['198.18.0.1', 'benchmarking 198.18/15'],
    ['192.88.99.1', '6to4 relay anycast'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast (SSDP)'],
    ['240.0.0.1', 'reserved 240/4'],
    ['255.255.255.255', 'broadcast'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['fd00::1', 'unique local fc00::/7'],
    ['fe80::1', 'link-local'],
    ['fec0::1', 'site-local fec0::/10'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'IPv4-mapped loopback'],
    ['::ffff:169.254.169.254', 'IPv4-mapped metadata'],
    ['::ffff:8.8.8.8', 'IPv4-mapped (any: the policy judges the IPv6 form)'],
    ['2002:a9fe:a9fe::', '6to4 wrapping 169.254.169.254'],
    ['2002:808:808::1', '6to4 (any)'],
    ['2001::1', 'Teredo 2001::/32'],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'Teredo'],
    ['64:ff9b::a9fe:a9fe', 'NAT64 64:ff9b::/96'],
    ['64:ff9b:1::1', 'local-use NAT64 64:ff9b:1::/48'],
    ['2001:db8::1', 'documentation 2001:db8::/32'],
    ['2001:2::1', 'benchmarking 2001:2::/48'],
    ['100::1', 'discard-only 100::/64'],
    ['4000::1', 'outside global unicast 2000::/3'],
    ['not-an-ip', 'not an address'],
    ['0x7f.1', 'a legacy IPv4 spelling'],
  ])('%s is refused (%s)', (address) => expect(isInternalAddress(address)).toBe(true));

  it.each(['93.184.216.34', '8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '2a00:1450:4001:82a::200e'])(
    '%s is global unicast and allowed',
    (address) => expect(isInternalAddress(address)).toBe(false),
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
