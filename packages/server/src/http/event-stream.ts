import { errors, type OpenedWatch, type Principal, type Services, WatchFilter } from '@hangar/core';
import type { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { Authenticator } from '../auth/authenticator.js';
import { toHangarError } from '../errors/to-hangar-error.js';
import { writeError } from '../errors/write-error.js';
import { requireRole, scopeOf } from '../trpc/procedures.js';
import type { WaitSlots } from '../trpc/wait-slots.js';
import { API_BASE } from './api-base.js';
import { connectionSignal } from './connection-signal.js';
import { queryInput } from './query-input.js';
import { refuseHead } from './refuse-head.js';
import type { AppEnv } from './request-context.js';
import { requestHeader } from './request-header.js';

export const EVENT_STREAM_PATH = `${API_BASE}/events/stream`;

export interface EventStreamDeps {
  services: Services;
  auth: Authenticator;
  waits: WaitSlots;
  /** Aborted at shutdown: streams end (clients resume elsewhere) instead of holding the server open. */
  shutdown: AbortSignal;
  /** A comment line this often, so proxies do not close an idle stream. */
  heartbeat_ms: number;
}

/**
 * `GET /api/v1/events/stream`: the watch stream as Server-Sent Events. Each event's SSE `id` is
 * its stream position; a client that reconnects with `Last-Event-ID` (or `?after=`) is replayed
 * what it missed, then gets the live tail. Refusals (bad filter, no right, unknown VM, too many
 * streams) are ordinary JSON error answers, before any stream starts; a failure mid-stream (the
 * database went away) is an `error` event, then the end of the stream.
 */
export function mountEventStream(app: Hono<AppEnv>, deps: EventStreamDeps): void {
  app.get(EVENT_STREAM_PATH, refuseHead, async (c) => {
    const info = c.get('info');
    info.procedure = 'events.stream';
    const stop = new AbortController();
    let release: (() => void) | undefined;
    let watch: OpenedWatch;
    try {
      // A client reconnecting on a kept-alive connection while this server stops is sent away, so the connection can close.
      if (deps.shutdown.aborted) throw errors.shuttingDown();
      const principal: Principal = await deps.auth.authenticate(requestHeader(c, 'authorization'));
      info.principal = principal;
      requireRole(principal, 'viewer');
      const input = queryInput(WatchFilter, new URL(c.req.url).searchParams);
      // A reconnecting EventSource says where it was; that is later than the URL's `after`.
      const last = requestHeader(c, 'last-event-id');
      if (last) input.after = last;
      release = deps.waits.acquire(principal);
      const signal = AbortSignal.any([stop.signal, connectionSignal(c), deps.shutdown]);
      watch = await deps.services.events.watch({ scope: scopeOf(principal), global_admin: principal.global_admin }, input, signal);
    } catch (err) {
      release?.();
      return writeError(c, err);
    }
    c.header('cache-control', 'no-store');
    // nginx and its kind buffer responses unless told not to.
    c.header('x-accel-buffering', 'no');
    return streamSSE(c, async (stream) => {
      stream.onAbort(() => stop.abort());
      const beat = setInterval(() => {
        stream.write(': heartbeat\n\n').catch(() => stop.abort());
      }, deps.heartbeat_ms);
      try {
        // Where the stream begins, as an event id: a client that reconnects before any event resumes from here.
        await stream.writeSSE({ event: 'ready', id: watch.position, data: JSON.stringify({ position: watch.position }), retry: 1000 });
        for await (const e of watch.events) await stream.writeSSE({ id: e.id, data: JSON.stringify(e) });
      } catch (err) {
        if (!stop.signal.aborted) {
          const e = toHangarError(err);
          await stream
            .writeSSE({ event: 'error', data: JSON.stringify({ detail: e.message, code: e.code, request_id: info.requestId ?? null }) })
            .catch(() => {});
        }
      } finally {
        clearInterval(beat);
        stop.abort();
        release?.();
        await watch.events.return(undefined).catch(() => {});
      }
    });
  });
}
