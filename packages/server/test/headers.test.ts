import { type IncomingHttpHeaders, request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../src/testing.js';

// Headers over a real HTTP server, where they are read from Node's parsed request and set on
// Node's response: a repeated header reads as all its values (two credentials are refused),
// and every answer gets beside the handler's own headers its request id and, at shutdown,
// `connection: close`.

let server: TestServer;
let vmId: string;
let stopped: Promise<void> | null = null;
const json = (key: string) => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json' });

/** One request over node:http, keeping the connection alive, with the raw answer's headers (a header given several values is sent once per value). */
function get(
  path: string,
  headers: Record<string, string | string[]>,
): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${server.url}${path}`, { headers: { connection: 'keep-alive', ...headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  server = await startTestServer();
  const res = await fetch(`${server.url}/api/v1/vms`, {
    method: 'POST',
    headers: { ...json(server.apiKey), 'x-request-id': 'create-1' },
    body: JSON.stringify({ name: 'headed', cpu_cores: 1, memory_mb: 256, disk_gb: 1 }),
  });
  expect(res.status).toBe(201);
  expect(res.headers.get('x-request-id')).toBe('create-1');
  // The handler's own header is kept beside it.
  expect(res.headers.get('location')).toMatch(/^\/api\/v1\/vms\/[0-9a-f-]{36}$/);
  vmId = ((await res.json()) as { vm: { id: string } }).vm.id;
});
afterAll(() => stopped ?? server?.stop());

describe('request headers', () => {
  it('refuse a request with two credentials, even the same one twice, never taking the first', async () => {
    const key = `Bearer ${server.apiKey}`;
    expect((await get(`/api/v1/vms/${vmId}`, { authorization: key })).status).toBe(200);
    const input = encodeURIComponent(JSON.stringify({ id: vmId }));
    for (const authorization of [
      [key, key],
      [key, 'Bearer hgr_not_a_key'],
    ]) {
      for (const path of [`/api/v1/vms/${vmId}`, `/trpc/vms.get?input=${input}`, `/api/v1/events/stream`]) {
        const answer = await get(path, { authorization });
        expect(answer.status, `${path} with ${authorization.length} credentials`).toBe(401);
      }
    }
  });
});

describe('answer headers', () => {
  it("carry the caller's sane request id, or a new one, beside the handler's own headers", async () => {
    const auth = { authorization: `Bearer ${server.apiKey}` };
    const rest = await get(`/api/v1/vms/${vmId}`, { ...auth, 'x-request-id': 'read-1' });
    expect(rest.status).toBe(200);
    expect(rest.headers['x-request-id']).toBe('read-1');
    expect(rest.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(rest.body)).toMatchObject({ id: vmId, name: 'headed' });

    const input = encodeURIComponent(JSON.stringify({ id: vmId }));
    const trpc = await get(`/trpc/vms.get?input=${input}`, { ...auth, 'x-request-id': 'read-2' });
    expect(trpc.status).toBe(200);
    expect(trpc.headers['x-request-id']).toBe('read-2');
    expect(trpc.headers.vary).toBe('trpc-accept, accept');

    const insane = await get(`/api/v1/vms/${vmId}`, { ...auth, 'x-request-id': 'not a sane id\u00e9' });
    expect(insane.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    // Refusals too, and their body names the same id.
    const missing = await get('/api/v1/vms/6c7e3b27-7159-4e0a-9e30-3d44284574cd', { ...auth, 'x-request-id': 'read-3' });
    expect(missing.status).toBe(404);
    expect(missing.headers['x-request-id']).toBe('read-3');
    expect(JSON.parse(missing.body)).toMatchObject({ code: 'VM_NOT_FOUND', request_id: 'read-3' });
    // An answer streamed by the handler (the events stream) carries it too.
    const ctl = new AbortController();
    const stream = await fetch(`${server.url}/api/v1/events/stream`, {
      headers: { ...auth, 'x-request-id': 'watch-1' },
      signal: ctl.signal,
    });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('x-request-id')).toBe('watch-1');
    expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
    ctl.abort();
    await stream.body?.cancel().catch(() => {});
  });

  it('close a kept-alive connection once the server is stopping', async () => {
    const auth = { authorization: `Bearer ${server.apiKey}` };
    const before = await get(`/api/v1/vms/${vmId}`, auth);
    expect(before.headers.connection).toBe('keep-alive');
    // A long-poll held while the server stops is answered at once, and its connection closed.
    const held = get(`/api/v1/vms/${vmId}/wait?status=deleted&timeout_ms=30000`, auth);
    await new Promise((r) => setTimeout(r, 300));
    stopped = server.stop();
    const answer = await held;
    expect(answer.headers.connection).toBe('close');
    expect(answer.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    await stopped;
  });
});
