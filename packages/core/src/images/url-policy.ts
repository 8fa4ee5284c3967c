import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import { RequestFilteringHttpAgent, RequestFilteringHttpsAgent } from 'request-filtering-agent';

/**
 * IPv6's global unicast space. ipaddr.js calls a few addresses outside it `unicast` too:
 * site-local fec0::/10, IPv4-compatible ::a.b.c.d (::7f00:1 is 127.0.0.1), local-use NAT64
 * 64:ff9b:1::/48. None of them is a public host's.
 */
const GLOBAL_V6 = ipaddr.parseCIDR('2000::/3');

/**
 * Where tenants' URLs (image and ISO downloads) may lead. By default only public unicast
 * addresses: loopback, private, link-local (the cloud metadata service at 169.254.169.254),
 * unspecified (0.0.0.0, ::), mapped and reserved ranges, and IPv6 outside global unicast, are
 * refused, on the address each connection actually resolves to (so DNS tricks and redirects are
 * checked too). An operator may allow an internal mirror by host name, address or CIDR.
 */
export class UrlPolicy {
  private readonly hosts: Set<string>;
  private readonly addresses: string[];
  private readonly ranges: [ipaddr.IPv4 | ipaddr.IPv6, number][];
  private readonly strict: { http: RequestFilteringHttpAgent; https: RequestFilteringHttpsAgent };
  private readonly trusted: { http: RequestFilteringHttpAgent; https: RequestFilteringHttpsAgent };

  /** `allow`: host names (exact, case-insensitive), IP addresses and CIDRs. */
  constructor(readonly allow: readonly string[] = []) {
    this.hosts = new Set();
    this.addresses = [];
    this.ranges = [];
    for (const entry of allow.map((a) => a.trim()).filter(Boolean)) {
      if (isIP(entry) || entry.includes('/')) {
        // A lone address is its own one-address range; a malformed entry throws here, at start.
        this.ranges.push(ipaddr.parseCIDR(entry.includes('/') ? entry : `${entry}/${isIP(entry) === 4 ? 32 : 128}`));
        this.addresses.push(entry);
      } else {
        this.hosts.add(entry.toLowerCase());
      }
    }
    const agents = (allowPrivateIPAddress: boolean) => ({
      http: new RequestFilteringHttpAgent({ allowPrivateIPAddress, allowIPAddressList: this.addresses }),
      https: new RequestFilteringHttpsAgent({ allowPrivateIPAddress, allowIPAddressList: this.addresses }),
    });
    this.strict = agents(false);
    this.trusted = agents(true);
  }

  /** `HANGAR_IMAGE_ALLOW_HOSTS`: a comma-separated list. */
  static fromList(list: string | undefined): UrlPolicy {
    return new UrlPolicy((list ?? '').split(','));
  }

  /** The agent that connects to `url` only where this policy allows. */
  agentFor(url: URL): RequestFilteringHttpAgent | RequestFilteringHttpsAgent {
    const pair = this.hosts.has(url.hostname.toLowerCase()) ? this.trusted : this.strict;
    return url.protocol === 'https:' ? pair.https : pair.http;
  }

  /**
   * Why a URL naming an address that may not be reached is refused, before connecting (a
   * clearer reason than the connection's), or null. Host names are judged on the address they
   * resolve to, when the connection is made.
   */
  refusal(url: URL): string | null {
    const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
    if (this.hosts.has(host) || !isIP(host)) return null;
    return this.addressRefusal(host);
  }

  /**
   * The DNS lookup for `url`'s connections (an allowed host name has none): a name that
   * resolves to an address this policy refuses fails, for the same reasons as `refusal`. The
   * agent's own check (ipaddr.js's ranges) runs on what this passes.
   */
  lookupFor(url: URL): LookupFunction | undefined {
    if (this.hosts.has(url.hostname.toLowerCase())) return undefined;
    return ((hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
      dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
        if (err) return callback(err);
        for (const a of addresses) {
          const why = this.addressRefusal(a.address);
          if (why) return callback(new Error(`${hostname} is refused: ${why}`));
        }
        if (options.all) return callback(null, addresses);
        const [first] = addresses;
        return first ? callback(null, first.address, first.family) : callback(new Error(`${hostname} has no address`));
      });
    }) as unknown as LookupFunction;
  }

  private addressRefusal(host: string): string | null {
    const address = ipaddr.parse(host);
    if (this.ranges.some((r) => r[0].kind() === address.kind() && address.match(r))) return null;
    const range = address.range();
    if (range !== 'unicast') return `${host} is a ${range} address`;
    if (address.kind() === 'ipv6' && !address.match(GLOBAL_V6)) return `${host} is not a global unicast address`;
    return null;
  }
}

/** Refuses every non-public address: the default for tenants' URLs. */
export const PUBLIC_ONLY = new UrlPolicy();
