import { BlockList, isIP } from 'node:net';
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';

/**
 * Addresses a webhook must not reach unless WEBHOOK_ALLOW_PRIVATE_ADDRESSES is on: loopback,
 * private (RFC 1918, ULA), link-local (which includes cloud metadata at 169.254.169.254),
 * carrier-grade NAT, multicast and reserved ranges. A callback URL comes from an API client;
 * without this a task could make the worker call services inside the cluster (SSRF).
 */
const internal = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  internal.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['64:ff9b::', 96],
] as const) {
  internal.addSubnet(net, prefix, 'ipv6');
}

export function isInternalAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return internal.check(mapped[1], 'ipv4');
  const family = isIP(address);
  if (family === 4) return internal.check(address, 'ipv4');
  if (family === 6) return internal.check(address, 'ipv6');
  return true; // not an IP address at all: refuse rather than guess
}

export class WebhookAddressRefusedError extends Error {
  constructor(host: string, address: string) {
    super(
      `callback host ${host} resolves to internal address ${address}; set WEBHOOK_ALLOW_PRIVATE_ADDRESSES=true to allow it`,
    );
    this.name = 'WebhookAddressRefusedError';
  }
}

/** Refuses a URL whose host is an internal IP literal (a literal never goes through DNS lookup). */
export function assertAllowedLiteralHost(url: URL): void {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host) && isInternalAddress(host)) throw new WebhookAddressRefusedError(host, host);
}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/**
 * A `lookup` for http.request that checks every address a name resolves to at connect time, so a
 * DNS answer that changes between a check and the connection (DNS rebinding) cannot slip through.
 */
export function guardedLookup(hostname: string, options: LookupOptions, callback: LookupCallback): void {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, []);
    const refused = addresses.find((a) => isInternalAddress(a.address));
    if (refused) return callback(new WebhookAddressRefusedError(hostname, refused.address), []);
    if (options.all) return callback(null, addresses);
    return callback(null, addresses[0].address, addresses[0].family);
  });
}
