import type { Hono, Context as HonoContext, MiddlewareHandler } from 'hono';
import { httpStatusOf } from '../errors/http-status.js';
import { shouldRetry, toHangarError } from '../errors/to-hangar-error.js';
import { refuseHead } from '../http/refuse-head.js';
import type { AppEnv } from '../http/request-context.js';
import { requestHeader } from '../http/request-header.js';
import type { Context } from '../trpc/context.js';
import { apiVms } from './api-vms.js';
import { byName } from './by-name.js';
import { crud } from './crud.js';
import type { Dialect, DialectRoute } from './dialect.js';
import { lifecycle } from './lifecycle.js';
import { DIALECT_NAMES, type DialectName } from './names.js';
import { type AppFetch, NativeCalls } from './native-calls.js';
import { provisioning } from './provisioning.js';

const BY_NAME: Record<DialectName, Dialect> = { 'by-name': byName, provisioning, lifecycle, 'api-vms': apiVms, crud };

/** Every dialect, in the order they are tried on a path they share (see DIALECT_NAMES). */
export const DIALECTS: readonly Dialect[] = DIALECT_NAMES.map((n) => BY_NAME[n]);

export interface DialectDeps {
  enabled: readonly DialectName[];
  makeContext: (c: HonoContext<AppEnv>) => Context;
  /** The app itself, for forwarding to native stream routes. */
  appFetch: AppFetch;
  /** The body limit of JSON and form requests (uploads limit themselves). */
  limitBody: MiddlewareHandler<AppEnv>;
}

/**
 * The web console's pages (`/vms`, `/vms/<id>`) share paths with the dialects; a browser asking
 * for one of them gets the page. Deeper paths (`/vms/<name>/export`) are never pages: a browser
 * following a download link gets the download.
 */
const PAGE_PATH = /^\/vms(\/[^/]+)?\/?$/;
const wantsPage = (c: HonoContext<AppEnv>) =>
  c.req.method === 'GET' && PAGE_PATH.test(c.req.path) && (requestHeader(c, 'accept') ?? '').includes('text/html');

/** Mounts the enabled dialects' routes at the root, and each one's OpenAPI document at `/openapi/<name>.json`. */
export function mountDialects(app: Hono<AppEnv>, deps: DialectDeps): void {
  const enabled = DIALECTS.filter((d) => deps.enabled.includes(d.name));
  for (const dialect of enabled) {
    if (dialect.native_paths) continue;
    for (const route of dialect.routes) {
      const path = route.path.replace(/\{(\w+)\}/g, ':$1');
      if (route.streams) app.use(path, refuseHead);
      if (route.body_type !== 'multipart/form-data') app.on(route.method, path, deps.limitBody);
      app.on(route.method, path, async (c, next) => {
        if (wantsPage(c)) return next();
        const answer = await answerRoute(dialect, route, c, deps);
        if (answer === undefined) return next();
        return answer;
      });
    }
  }
  const documents = new Map<string, Promise<string>>();
  app.get('/openapi/:file', async (c, next) => {
    const name = c.req.param('file').replace(/\.json$/, '');
    const dialect = enabled.find((d) => d.name === name);
    if (!dialect || !c.req.param('file').endsWith('.json')) return next();
    let doc = documents.get(dialect.name);
    if (!doc) {
      doc = import('./dialect-document.js').then((m) => JSON.stringify(m.dialectDocument(dialect)));
      documents.set(dialect.name, doc);
      doc.catch(() => documents.delete(dialect.name));
    }
    return c.body(await doc, 200, { 'content-type': 'application/json' });
  });
}

async function answerRoute(
  dialect: Dialect,
  route: DialectRoute,
  c: HonoContext<AppEnv>,
  deps: DialectDeps,
): Promise<Response | undefined> {
  try {
    return await route.handle({
      c,
      params: c.req.param() as Record<string, string>,
      native: new NativeCalls(c, deps.makeContext, deps.appFetch),
    });
  } catch (err) {
    const e = toHangarError(err);
    const native = httpStatusOf(e);
    const retryAfter =
      typeof e.details.retry_after_s === 'number' ? e.details.retry_after_s : native === 503 && shouldRetry(e) ? 1 : undefined;
    return c.json(dialect.error.body(e, c.get('info')?.requestId ?? null), dialect.error.status(e, native) as 400, {
      'x-should-retry': String(shouldRetry(e)),
      ...(retryAfter !== undefined ? { 'retry-after': String(retryAfter) } : {}),
    });
  }
}
