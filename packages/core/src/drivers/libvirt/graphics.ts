import { XMLParser } from 'fast-xml-parser';
import type { ScreenEndpoint } from '../driver.js';

// Attributes keep a prefix: `<graphics listen='…'>` has a child element of the same name.
const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  removeNSPrefix: true,
  isArray: (name) => name === 'graphics' || name === 'listen',
});

type Listen = { '@_type'?: string; '@_address'?: string; '@_socket'?: string };
type Graphics = { '@_type'?: string; '@_port'?: string; '@_socket'?: string; '@_listen'?: string; listen?: Listen[] };

/**
 * A listen address that means "every address" is reached on loopback; loopback is taken as it
 * is; any other is not followed (null). The XML is the host's, and whoever edits a domain there
 * must not turn the console proxy into a way to reach other addresses.
 */
function reachable(address: string | undefined): string | null {
  if (!address || address === '0.0.0.0') return '127.0.0.1';
  if (address === '::') return '::1';
  if (address === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address)) return address;
  return null;
}

/** Where libvirt puts its sockets: a socket elsewhere in the XML is not followed (the same reason). */
const LIBVIRT_SOCKET_DIRS = ['/run/libvirt/', '/var/run/libvirt/', '/var/lib/libvirt/'];
const libvirtSocket = (path: string) =>
  !path.split('/').includes('..') && LIBVIRT_SOCKET_DIRS.some((dir) => path.startsWith(dir)) ? path : null;

/**
 * Where a running domain's VNC server listens, from its live XML: the unix socket libvirt made
 * for `<listen type='socket'/>` (what Hangar defines), or the TCP port it chose for a domain
 * defined with an address. Null where there is none: an inactive definition (no socket nor port
 * yet), no VNC graphics, or no port given (`-1`).
 */
export function screenFromDomainXml(xml: string): ScreenEndpoint | null {
  const doc = parser.parse(xml) as { domain?: { devices?: { graphics?: Graphics[] } } };
  const vnc = doc.domain?.devices?.graphics?.find((g) => g['@_type'] === 'vnc');
  if (!vnc) return null;
  const socket = vnc['@_socket'] ?? vnc.listen?.find((l) => l['@_type'] === 'socket' && l['@_socket'])?.['@_socket'];
  if (socket) {
    const path = libvirtSocket(socket);
    return path ? { path } : null;
  }
  const port = Number(vnc['@_port']);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) return null;
  const address = vnc.listen?.find((l) => l['@_type'] === 'address')?.['@_address'] ?? vnc['@_listen'];
  const host = reachable(address);
  return host ? { host, port } : null;
}
