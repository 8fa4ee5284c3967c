import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import type { Readable } from 'node:stream';
import { PUBLIC_ONLY, type UrlPolicy } from './url-policy.js';

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export interface Fetched {
  body: Readable;
  /** From Content-Length, when the server sent one. */
  total: number | null;
  url: string;
}

export interface FetchImageOptions {
  max_redirects: number;
  /** Where the URL and every redirect may lead (default: public addresses only). */
  policy?: UrlPolicy;
  signal?: AbortSignal;
}

/**
 * GETs an image over http(s), following at most `max_redirects` redirects, each of which
 * must stay on http(s) and pass the URL policy (checked again on the address each connection
 * resolves to). Fails on anything but a 2xx.
 */
export async function fetchImage(source: string, opts: FetchImageOptions): Promise<Fetched> {
  const policy = opts.policy ?? PUBLIC_ONLY;
  let url = new URL(source);
  for (let hop = 0; ; hop++) {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`refusing to fetch ${url.protocol} URLs (${url.href})`);
    const refused = policy.refusal(url);
    if (refused) throw new Error(`refusing to fetch ${url.href}: ${refused}`);
    const res = await get(url, policy, opts.signal);
    if (REDIRECTS.has(res.statusCode ?? 0)) {
      res.resume();
      const location = res.headers.location;
      if (!location) throw new Error(`HTTP ${res.statusCode} without a Location from ${url.href}`);
      if (hop >= opts.max_redirects) throw new Error(`more than ${opts.max_redirects} redirects (last: ${url.href})`);
      url = new URL(location, url);
      continue;
    }
    const status = res.statusCode ?? 0;
    if (status < 200 || status > 299) {
      res.resume();
      throw new Error(`HTTP ${status} ${res.statusMessage ?? ''} from ${url.href}`.trim());
    }
    // Its reader hears its errors; until it is read, one must not end the process.
    res.on('error', () => {});
    const length = res.headers['content-length'];
    return { body: res, total: length && /^\d+$/.test(length) ? Number(length) : null, url: url.href };
  }
}

function get(url: URL, policy: UrlPolicy, signal: AbortSignal | undefined): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const request = url.protocol === 'https:' ? httpsGet : httpGet;
    const req = request(
      url,
      { agent: policy.agentFor(url), lookup: policy.lookupFor(url), signal, headers: { 'user-agent': 'hangar-image-fetch' } },
      resolve,
    );
    req.on('error', (err) => reject(new Error(`could not fetch ${url.href}: ${err.message}`)));
  });
}
