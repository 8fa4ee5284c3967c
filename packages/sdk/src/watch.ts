import type { WatchEvent as CoreWatchEvent } from '@hangar/core';
import { createParser } from 'eventsource-parser';
import { fromRestResponse } from './errors.js';
import { REST_BASE } from './transfers.js';

/** One change: of a VM, an operation, an image or a host. `id` is its place in the stream. */
export type WatchEvent = CoreWatchEvent;

export interface WatchFilter {
  /** Only this VM's events (and its operations'). */
  vm_id?: string;
  /** Only events of VMs with these labels: `key=value` or `key`. */
  label?: string | string[];
  /** Only these event types (`vm.status_changed`) or kinds (`vm`, `operation`, `image`, `host`). */
  type?: string | string[];
  /** Global admins: another project's events (with the hosts'). */
  project_id?: string;
  /** Global admins: every project's events and the hosts'. */
  all_projects?: boolean;
  /** Replay what came after this event id (`'0'`: everything kept), then go live. Default: from now. */
  after?: string;
}

export interface WatchOptions {
  /** Ends the iteration. */
  signal?: AbortSignal;
  /** The longest pause between reconnects (default 5 s). */
  max_backoff_ms?: number;
  /** Told of each lost connection before the client reconnects (for logs or a status line). */
  onReconnect?: (info: { attempt: number; error: unknown; after: string | undefined }) => void;
}

interface Base {
  baseUrl: string;
  headers(): Record<string, string>;
  fetch: typeof fetch;
}

/** A stream open this long (heartbeats arriving) counts as healthy again: the backoff starts over. */
const HEALTHY_AFTER_MS = 30_000;

/** Answers worth reconnecting after: the server is busy or away, not refusing the request. */
const RETRY_STATUSES = new Set([408, 425, 429, 500, 502, 503, 504]);

function streamUrl(baseUrl: string, f: WatchFilter): string {
  const q = new URLSearchParams();
  if (f.vm_id) q.set('vm_id', f.vm_id);
  for (const l of [f.label ?? []].flat()) q.append('label', l);
  for (const t of [f.type ?? []].flat()) q.append('type', t);
  if (f.project_id) q.set('project_id', f.project_id);
  if (f.all_projects) q.set('all_projects', 'true');
  const s = q.toString();
  return `${baseUrl}${REST_BASE}/events/stream${s ? `?${s}` : ''}`;
}

const pause = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });

/**
 * The watch stream (`GET /api/v1/events/stream`) as an async iterator that reconnects by itself:
 * after a lost connection, a server restart or a stream the server ended, it reconnects with
 * backoff and resumes after the last event it yielded (or where the stream began), so the
 * caller sees every event once. Refusals (400, 401, 403, 404) are thrown; busy or unavailable
 * answers (429, 5xx) are waited out like lost connections.
 */
export async function* watchEvents(base: Base, filter: WatchFilter, opts: WatchOptions = {}): AsyncGenerator<WatchEvent> {
  const url = streamUrl(base.baseUrl, filter);
  let position = filter.after;
  let attempt = 0;
  while (!opts.signal?.aborted) {
    const ctl = new AbortController();
    const stop = () => ctl.abort();
    opts.signal?.addEventListener('abort', stop, { once: true });
    let lost: unknown = new Error('the server ended the stream');
    let waitMs: number | undefined;
    try {
      const res = await base.fetch(url, {
        headers: { ...base.headers(), accept: 'text/event-stream', ...(position !== undefined ? { 'last-event-id': position } : {}) },
        signal: ctl.signal,
      });
      if (!res.ok || !res.body) {
        const error = await fromRestResponse(res);
        if (!RETRY_STATUSES.has(res.status)) throw error;
        const retryAfter = Number(res.headers.get('retry-after'));
        if (retryAfter > 0) waitMs = retryAfter * 1000;
        lost = error;
      } else {
        const ready: WatchEvent[] = [];
        const parser = createParser({
          onEvent: (m) => {
            if (m.event === 'ready') {
              // Where the stream begins: reconnecting before any event resumes here, missing nothing.
              if (position === undefined) position = m.id;
            } else if (m.event === 'error') {
              lost = new Error(`the stream failed: ${m.data}`);
            } else if (m.event === undefined || m.event === 'message') {
              ready.push(JSON.parse(m.data) as WatchEvent);
            }
          },
        });
        const opened = Date.now();
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        try {
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            parser.feed(value);
            while (ready.length > 0) {
              const e = ready.shift()!;
              position = e.id;
              // Only a stream that delivers counts as healthy: one that opens and fails at once
              // (a database away) keeps backing off.
              attempt = 0;
              yield e;
            }
            if (attempt > 0 && Date.now() - opened > HEALTHY_AFTER_MS) attempt = 0;
          }
        } finally {
          await reader.cancel().catch(() => {});
        }
      }
    } catch (err) {
      if (opts.signal?.aborted) return;
      // A refusal is the caller's; anything else (a reset connection, a server gone) is waited out.
      if (err instanceof Error && 'status' in err && typeof err.status === 'number' && !RETRY_STATUSES.has(err.status)) throw err;
      lost = err;
    } finally {
      opts.signal?.removeEventListener('abort', stop);
      ctl.abort();
    }
    if (opts.signal?.aborted) return;
    attempt++;
    opts.onReconnect?.({ attempt, error: lost, after: position });
    const backoff = Math.min(opts.max_backoff_ms ?? 5_000, 100 * 2 ** Math.min(attempt, 10));
    await pause(waitMs !== undefined ? waitMs * (1 + Math.random() / 2) : backoff * (0.5 + Math.random() / 2), opts.signal);
  }
}
