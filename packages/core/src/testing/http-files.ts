import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FileRoute {
  body?: Buffer;
  status?: number;
  headers?: Record<string, string>;
  /** Answer with a redirect to this path (relative to the server). */
  redirect?: string;
  /** Send the body one byte per this many ms (a trickling server). */
  trickle_ms?: number;
}

/** A local HTTP server for download tests: no outside network. Counts requests per path. */
export async function serveFiles(
  routes: Record<string, FileRoute>,
): Promise<{ url: string; hits: Map<string, number>; close(): Promise<void> }> {
  const hits = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const r = routes[path];
    if (!r) {
      res.writeHead(404).end('not found');
      return;
    }
    if (r.redirect) {
      res.writeHead(r.status ?? 302, { location: r.redirect }).end();
      return;
    }
    res.writeHead(r.status ?? 200, {
      'content-type': 'application/octet-stream',
      ...(r.body ? { 'content-length': String(r.body.length) } : {}),
      ...r.headers,
    });
    if (!r.trickle_ms || !r.body) return void res.end(r.body);
    let i = 0;
    const timer = setInterval(() => {
      if (i >= r.body!.length || res.destroyed) {
        clearInterval(timer);
        res.end();
        return;
      }
      res.write(r.body!.subarray(i, ++i));
    }, r.trickle_ms);
    res.on('close', () => clearInterval(timer));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
