import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { RequestFilteringHttpAgent, RequestFilteringHttpsAgent } from 'request-filtering-agent';

/**
 * Where tenants' URLs (image and ISO downloads) may lead. By default only public unicast
 * addresses: loopback, private, link-local (the cloud metadata service at 169.254.169.254),
 * unspecified (0.0.0.0, ::), mapped and reserved ranges are refused, on the address each
 * connection actually resolves to (so DNS tricks and redirects are checked too). An operator
 * may allow an internal mirror by host name, address or CIDR.
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
    const address = ipaddr.parse(host);
    if (this.ranges.some((r) => r[0].kind() === address.kind() && address.match(r))) return null;
    const range = address.range();
    return range === 'unicast' ? null : `${host} is a ${range} address`;
  }
}

/** Refuses every non-public address: the default for tenants' URLs. */
export const PUBLIC_ONLY = new UrlPolicy();
