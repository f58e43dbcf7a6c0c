import { isIP } from 'node:net';
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import ipaddr from 'ipaddr.js';

/** IANA's global unicast block for IPv6; ipaddr.js calls everything it has no name for "unicast". */
const IPV6_GLOBAL_UNICAST = ipaddr.parseCIDR('2000::/3');

/**
 * Whether a webhook must not reach an address unless WEBHOOK_ALLOW_PRIVATE_ADDRESSES is on. Only
 * global unicast passes: ipaddr.js names every special-purpose range (loopback, private, ULA,
 * link-local and with it cloud metadata at 169.254.169.254, carrier-grade NAT, multicast, the
 * TEST-NETs, benchmarking, reserved, site-local), and an address in any of them is refused. So
 * is every IPv6 form that wraps an IPv4 address (IPv4-mapped, 6to4, Teredo, NAT64 64:ff9b::/96
 * and 64:ff9b:1::/48): the IPv4 address inside could be internal. A callback URL comes from an
 * API client; without this a task could make the worker call services inside the cluster (SSRF).
 */
export function isInternalAddress(address: string): boolean {
  // isIP first: ipaddr.js also reads legacy spellings such as "0x7f.1" that no URL host should be.
  const family = isIP(address);
  if (family === 0) return true; // not an IP address at all: refuse rather than guess
  const parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv4') return parsed.range() !== 'unicast';
  return parsed.range() !== 'unicast' || !parsed.match(IPV6_GLOBAL_UNICAST);
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
