import { type Db, errors, type ImageStore, pingDatabase, type Services, type VmArchives } from '@hangar/core';
import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { Hono, type Context as HonoContext } from 'hono';
import type { Authenticator } from './auth/authenticator.js';
import { DIALECT_NAMES, type DialectName } from './dialects/names.js';
import { mountDialects } from './dialects/registry.js';
import { writeError } from './errors/write-error.js';
import { mountAgentRoutes } from './http/agent-routes.js';
import { API_BASE } from './http/api-base.js';
import { limitBody } from './http/body-limit.js';
import { connectionSignal } from './http/connection-signal.js';
import type { ConsoleSockets } from './http/console-socket.js';
import { mountDocs } from './http/docs-page.js';
import { mountEventStream } from './http/event-stream.js';
import { type AppEnv, requestContext } from './http/request-context.js';
import { requestHeader } from './http/request-header.js';
import { restHandler } from './http/rest.js';
import { mountStreamRoutes, STREAM_PATHS } from './http/stream-routes.js';
import { TransferHub } from './http/transfer-hub.js';
import { trpcSingleQuery } from './http/trpc-single-query.js';
import { mountWebConsole } from './http/web-console.js';
import type { Log } from './logger.js';
import type { HangarMetrics } from './metrics/hangar-metrics.js';
import { mountMetrics } from './metrics/metrics-endpoint.js';
import { appRouter } from './router.js';
import type { Context } from './trpc/context.js';
import { WaitSlots } from './trpc/wait-slots.js';

export interface AppDeps {
  services: Services;
  auth: Authenticator;
  db: Db;
  log: Log;
  /** Aborted at shutdown, so long-polls answer instead of holding the server open. */
  shutdown: AbortSignal;
  /** VM export and import; null where this process runs no worker. */
  archives: VmArchives | null;
  /** The image store agents fetch images from. */
  images?: ImageStore | null;
  /** Exports and imports this process exchanges with agents. */
  transfers?: TransferHub;
  /** Long-polls and watch streams one principal may hold at once. */
  max_waits_per_principal?: number;
  /** Records every request; with `serve_metrics`, also answers `/metrics` here (global admins only). */
  metrics?: HangarMetrics;
  /** False when metrics have a port of their own: this app's `/metrics` is then unknown (404). */
  serve_metrics?: boolean;
  /** Heartbeats on an idle watch stream (default 15 s). */
  watch_heartbeat_ms?: number;
  /** The VM screen's WebSocket and its tickets (the server attaches it to its HTTP server). */
  consoles: ConsoleSockets;
  /** The earlier APIs spoken beside the native one (default: all). */
  dialects?: readonly DialectName[];
}

/** Calls in one tRPC batch, at most. */
export const MAX_BATCH_CALLS = 50;

export function createApp(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use('*', requestContext(deps.log, deps.metrics?.requests, deps.shutdown));

  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', async (c) => {
    if (await pingDatabase(deps.db)) return c.json({ status: 'ready' });
    return c.json({ status: 'unavailable', detail: 'The database is unreachable', code: 'DATABASE_UNAVAILABLE' }, 503);
  });

  app.use('/trpc/*', limitBody);
  const waits = new WaitSlots(deps.max_waits_per_principal);
  const context = (c: HonoContext<AppEnv>): Context => {
    let gone: AbortSignal | undefined;
    return {
      services: deps.services,
      auth: deps.auth,
      log: deps.log,
      info: c.get('info'),
      authorization: requestHeader(c, 'authorization'),
      shutdown: deps.shutdown,
      waits,
      console_tickets: deps.consoles.tickets,
      client_gone: () => (gone ??= connectionSignal(c)),
    };
  };
  app.get('/trpc/*', trpcSingleQuery(context));
  app.all('/trpc/*', (c) =>
    fetchRequestHandler({
      endpoint: '/trpc',
      req: c.req.raw,
      router: appRouter,
      allowBatching: true,
      // The SDK batches at most MAX_BATCH_CALLS too; a larger batch is one request doing a crowd's work.
      maxBatchSize: MAX_BATCH_CALLS,
      createContext: () => context(c),
    }),
  );

  // Streams (export, import, upload) are not size-limited here: their handlers limit them.
  mountStreamRoutes(app, { services: deps.services, auth: deps.auth, archives: deps.archives });
  mountEventStream(app, {
    services: deps.services,
    auth: deps.auth,
    waits,
    shutdown: deps.shutdown,
    heartbeat_ms: deps.watch_heartbeat_ms ?? 15_000,
  });
  deps.consoles.mount(app);
  mountAgentRoutes(app, {
    services: deps.services,
    auth: deps.auth,
    images: deps.images ?? null,
    transfers: deps.transfers ?? new TransferHub(),
  });
  // REST: the same procedures, routed by their OpenAPI metadata.
  app.use(`${API_BASE}/*`, (c, next) => (STREAM_PATHS.some((p) => p.test(c.req.path)) ? next() : limitBody(c, next)));
  app.all(`${API_BASE}/*`, restHandler(context));
  // Built at the first request, not at start: generating it (and loading its generator) takes
  // a good part of a second that no other request needs.
  let document: Promise<string> | undefined;
  app.get('/openapi.json', async (c) => {
    document ??= import('./http/openapi.js').then(
      (m) => JSON.stringify(m.buildOpenApiDocument()),
      (err: unknown) => {
        // Not kept: the next request tries again.
        document = undefined;
        throw err;
      },
    );
    return c.body(await document, 200, { 'content-type': 'application/json' });
  });
  mountDocs(app);
  // Before the web console: `/vms` is both its page and the earlier APIs' collection.
  mountDialects(app, { enabled: deps.dialects ?? DIALECT_NAMES, makeContext: context, appFetch: async (r) => app.fetch(r), limitBody });
  if (deps.metrics && deps.serve_metrics !== false) mountMetrics(app, { metrics: deps.metrics, auth: deps.auth });
  // Last: the web console answers what no route above did (never the API's own paths).
  mountWebConsole(app);

  app.notFound((c) => writeError(c, errors.routeNotFound(c.req.method, c.req.path)));
  app.onError((err, c) => {
    deps.log.error({ err, request_id: c.get('info')?.requestId }, 'unhandled error');
    return writeError(c, err);
  });
  return app;
}
