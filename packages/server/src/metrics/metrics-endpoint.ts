import type { AddressInfo } from 'node:net';
import { errors } from '@hangar/core';
import { type ServerType, serve } from '@hono/node-server';
import { Hono } from 'hono';
import type { Authenticator } from '../auth/authenticator.js';
import { writeError } from '../errors/write-error.js';
import type { AppEnv } from '../http/request-context.js';
import { requestHeader } from '../http/request-header.js';
import type { HangarMetrics } from './hangar-metrics.js';

export const METRICS_PATH = '/metrics';

/**
 * `/metrics` on the API's own port: for global admins only (like the other fleet-wide
 * endpoints), since it tells how many VMs and hosts there are and what every procedure does.
 */
export function mountMetrics(app: Hono<AppEnv>, deps: { metrics: HangarMetrics; auth: Authenticator }): void {
  app.get(METRICS_PATH, async (c) => {
    try {
      const principal = await deps.auth.authenticate(requestHeader(c, 'authorization'));
      c.get('info').principal = principal;
      if (!principal.global_admin) throw errors.forbidden('Metrics need a global admin');
      return c.body(await deps.metrics.scrape(), 200, { 'content-type': deps.metrics.contentType });
    } catch (err) {
      return writeError(c, err);
    }
  });
}

export interface MetricsListener {
  url: string;
  close(): Promise<void>;
}

/**
 * `/metrics` on a port of its own (HANGAR_METRICS_PORT), without authentication: that port is
 * meant to be reachable only by the scraper (bound to loopback unless HANGAR_METRICS_HOST says
 * otherwise). It answers nothing else.
 */
export async function startMetricsListener(opts: { metrics: HangarMetrics; host: string; port: number }): Promise<MetricsListener> {
  const app = new Hono<AppEnv>();
  app.get(METRICS_PATH, async (c) => c.body(await opts.metrics.scrape(), 200, { 'content-type': opts.metrics.contentType }));
  app.notFound((c) => writeError(c, errors.routeNotFound(c.req.method, c.req.path)));
  app.onError((err, c) => writeError(c, err));
  const server = await new Promise<ServerType>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: opts.host, port: opts.port }, () => resolve(s));
    s.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // A scraper keeps its connection open between scrapes; a scrape is short, nothing is lost.
        if ('closeAllConnections' in server) server.closeAllConnections();
      }),
  };
}
