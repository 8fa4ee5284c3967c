import { Readable } from 'node:stream';

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export interface Fetched {
  body: Readable;
  /** From Content-Length, when the server sent one. */
  total: number | null;
  url: string;
}

/**
 * GETs an image over http(s), following at most `max_redirects` redirects, each of which
 * must stay on http(s). Fails on anything but a 2xx.
 */
export async function fetchImage(source: string, opts: { max_redirects: number; signal?: AbortSignal }): Promise<Fetched> {
  let url = new URL(source);
  for (let hop = 0; ; hop++) {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`refusing to fetch ${url.protocol} URLs (${url.href})`);
    const res = await fetch(url, { redirect: 'manual', signal: opts.signal });
    if (REDIRECTS.has(res.status)) {
      await res.body?.cancel();
      const location = res.headers.get('location');
      if (!location) throw new Error(`HTTP ${res.status} without a Location from ${url.href}`);
      if (hop >= opts.max_redirects) throw new Error(`more than ${opts.max_redirects} redirects (last: ${url.href})`);
      url = new URL(location, url);
      continue;
    }
    if (!res.ok || !res.body) {
      await res.body?.cancel();
      throw new Error(`HTTP ${res.status} ${res.statusText} from ${url.href}`);
    }
    const length = res.headers.get('content-length');
    return {
      body: Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>),
      total: length && /^\d+$/.test(length) ? Number(length) : null,
      url: url.href,
    };
  }
}
