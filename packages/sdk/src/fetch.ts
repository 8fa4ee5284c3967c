/**
 * Wraps fetch so an error answer that is not tRPC's JSON (a proxy's 502 page, a load
 * balancer's 503) still reaches the client as an error with its HTTP status, rather than as
 * an unreadable body that would look like a lost connection.
 */
export function statusPreservingFetch(base: typeof fetch = globalThis.fetch): typeof fetch {
  return async (input, init) => {
    const res = await base(input, init);
    if (res.ok || (res.headers.get('content-type') ?? '').includes('application/json')) return res;
    const url = new URL(String(input instanceof Request ? input.url : input));
    const text = (await res.text()).slice(0, 200);
    const error = {
      error: {
        message: `HTTP ${res.status}${text ? `: ${text}` : ''}`,
        code: -32603,
        data: { code: `HTTP_${res.status}`, httpStatus: res.status, request_id: res.headers.get('x-request-id') },
      },
    };
    const calls = url.searchParams.has('batch') ? url.pathname.split('/').pop()!.split(',').length : 0;
    const body = JSON.stringify(calls ? Array.from({ length: calls }, () => error) : error);
    return new Response(body, { status: res.status, headers: { 'content-type': 'application/json' } });
  };
}
