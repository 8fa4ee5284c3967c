import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Context, Hono } from 'hono';
import type { AppEnv } from './request-context.js';
import { requestHeader } from './request-header.js';

/**
 * The web console's built assets (`pnpm --filter @hangar/web build`): beside the sources
 * (`packages/web/dist`, seen from `packages/server/src/http`), beside the built server
 * (`packages/server/dist` → `packages/web/dist`), or copied next to the bundle (`dist/web`, as
 * in the container image). The first holding an `index.html` wins.
 */
export const WEB_CONSOLE_CANDIDATES = ['../../../web/dist', '../../web/dist', './web'].map((p) =>
  fileURLToPath(new URL(p, import.meta.url)),
);

/**
 * The app's own pages, which it routes on the client: each answers its index.html. Only these,
 * so an unknown path stays the API's 404 and the API's paths are never shadowed.
 */
export const WEB_CONSOLE_PAGES = ['/', '/sign-in', '/vms', '/vms/:id', '/images', '/hosts'] as const;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

const NOT_BUILT = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Hangar</title><meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem">
  <h1>Hangar</h1>
  <p>The web console is not built. Run <code>pnpm build</code> (or <code>pnpm --filter @hangar/web build</code>) and reload this page.</p>
  <p>The API is served all the same: <a href="/docs">/docs</a>.</p>
</body>
</html>`;

/**
 * The page's CSP: its own scripts only (an injected one could read the session's token), its
 * own API and the console's WebSocket on this host, and never inside another site's frame (a
 * console with action buttons is a clickjacking target). Some browsers do not count ws: of
 * the same host as 'self', so it is named.
 */
export function contentSecurityPolicy(host: string | undefined): string {
  const sockets = host && /^[A-Za-z0-9.:[\]-]+$/.test(host) ? ` ws://${host} wss://${host}` : '';
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    `connect-src 'self'${sockets}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** Where the assets are, looked for again at each request until found (a build after the start is picked up). */
function assetFinder(candidates: readonly string[]): () => string | null {
  let found: string | null = null;
  return () => {
    if (found && existsSync(join(found, 'index.html'))) return found;
    found = candidates.find((dir) => existsSync(join(dir, 'index.html'))) ?? null;
    return found;
  };
}

/**
 * GET / and the console's client-side routes (`/vms/<id>`…): its index.html (never cached: it
 * names the current build's assets); `/assets/*`: the build's files, named by their content's
 * hash and so cached for good.
 */
export function mountWebConsole(app: Hono<AppEnv>, opts: { candidates?: readonly string[] } = {}): void {
  const root = assetFinder(opts.candidates ?? WEB_CONSOLE_CANDIDATES);
  const page = async (c: Context<AppEnv>) => {
    const dir = root();
    if (!dir) return c.html(NOT_BUILT, 200, { 'cache-control': 'no-store' });
    return c.body(await readFile(join(dir, 'index.html')), 200, {
      'content-type': TYPES['.html']!,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'content-security-policy': contentSecurityPolicy(requestHeader(c, 'host')),
      'x-frame-options': 'DENY',
      'referrer-policy': 'no-referrer',
    });
  };
  for (const path of WEB_CONSOLE_PAGES) app.on(['GET', 'HEAD'], path, page);

  app.on(['GET', 'HEAD'], '/assets/*', async (c, next) => {
    const dir = root();
    let rel: string;
    try {
      rel = decodeURIComponent(c.req.path);
    } catch {
      return next();
    }
    const type = TYPES[extname(rel)];
    const file = dir ? normalize(join(dir, rel)) : '';
    if (!dir || !type || rel.includes('\0') || !file.startsWith(join(dir, 'assets') + sep)) return next();
    const info = await stat(file).catch(() => null);
    if (!info?.isFile()) return next();
    return c.body(await readFile(file), 200, {
      'content-type': type,
      'content-length': String(info.size),
      // Each name carries a hash of its content: a new build has new names.
      'cache-control': 'public, max-age=31536000, immutable',
      'x-content-type-options': 'nosniff',
    });
  });
}
