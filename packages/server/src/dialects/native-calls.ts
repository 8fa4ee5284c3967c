import type { Context as HonoContext } from 'hono';
import { connectionSignal } from '../http/connection-signal.js';
import type { AppEnv } from '../http/request-context.js';
import { requestHeader } from '../http/request-header.js';
import type { Context } from '../trpc/context.js';
import { callProcedure, procedureAt } from '../trpc/direct-call.js';

/** Forwards a request to the app's own routes (the native stream routes: export, import). */
export type AppFetch = (request: Request) => Promise<Response>;

/**
 * The native API as a dialect's request sees it: its procedures, called with the request's own
 * credentials and context exactly as the REST routes call them (every middleware, the same
 * authentication, validation and errors), and its stream routes, reached by forwarding.
 */
export class NativeCalls {
  private ctx: Context | undefined;

  constructor(
    private readonly c: HonoContext<AppEnv>,
    private readonly makeContext: (c: HonoContext<AppEnv>) => Context,
    private readonly appFetch: AppFetch,
  ) {}

  /** Calls the procedure at `path` (`vms.start`) with `input`; throws what it throws. */
  call<T>(path: string, input?: unknown): Promise<T> {
    const procedure = procedureAt(path);
    if (!procedure) throw new Error(`no procedure ${path}`);
    this.ctx ??= this.makeContext(this.c);
    this.c.get('info').procedure ??= path;
    return callProcedure(path, procedure, this.ctx, input) as Promise<T>;
  }

  /**
   * Sends the request on to a native route at `path` (under /api/v1), with the caller's
   * credentials and request id and the given body (a stream is passed through, not buffered).
   */
  forward(
    path: string,
    init: { method: string; body?: ReadableStream<Uint8Array> | null; headers?: Record<string, string> },
  ): Promise<Response> {
    const headers = new Headers(init.headers);
    for (const name of ['authorization', 'x-request-id'] as const) {
      const value = name === 'x-request-id' ? this.c.get('info').requestId : requestHeader(this.c, name);
      if (value) headers.set(name, value);
    }
    const url = new URL(path, this.c.req.url);
    return this.appFetch(
      new Request(url, {
        method: init.method,
        headers,
        body: init.body ?? null,
        signal: connectionSignal(this.c),
        ...(init.body ? { duplex: 'half' } : {}),
      } as RequestInit),
    );
  }
}
