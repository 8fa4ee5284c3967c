import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../src/testing.js';

// A long-poll holds a socket and a listener on the server: one principal may hold only so many.

let server: TestServer;
let vmId: string;
const auth = (key: string) => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json' });

beforeAll(async () => {
  server = await startTestServer({ env: { HANGAR_MAX_WAITS_PER_PRINCIPAL: '3' } });
  const res = await fetch(`${server.url}/api/v1/vms?wait=true`, {
    method: 'POST',
    headers: auth(server.apiKey),
    body: JSON.stringify({ name: 'waited-on', cpu_cores: 1, memory_mb: 256, disk_gb: 1 }),
  });
  vmId = ((await res.json()) as { vm: { id: string } }).vm.id;
});
afterAll(() => server?.stop());

async function viewerKey(name: string): Promise<string> {
  const user = await (
    await fetch(`${server.url}/api/v1/users`, {
      method: 'POST',
      headers: auth(server.apiKey),
      body: JSON.stringify({ username: name, role: 'viewer' }),
    })
  ).json();
  const key = await (
    await fetch(`${server.url}/api/v1/api-keys`, {
      method: 'POST',
      headers: auth(server.apiKey),
      body: JSON.stringify({ name: 'k', user_id: (user as { id: string }).id }),
    })
  ).json();
  return (key as { key: string }).key;
}

describe('long-polls', () => {
  it('are bounded per principal: the fourth is 429 until one ends; another key is not affected', async () => {
    const key = await viewerKey('patient');
    const held = Array.from({ length: 3 }, () => new AbortController());
    const pending = held.map((c, i) =>
      fetch(`${server.url}/api/v1/vms/${vmId}/wait?status=deleted&timeout_ms=30000`, { headers: auth(key), signal: c.signal }).catch(
        () => i,
      ),
    );
    // Let the three arrive and be held.
    await new Promise((r) => setTimeout(r, 300));
    const fourth = await fetch(`${server.url}/api/v1/vms/${vmId}/wait?status=deleted&timeout_ms=100`, { headers: auth(key) });
    expect(fourth.status).toBe(429);
    expect(await fourth.json()).toMatchObject({ code: 'RATE_LIMITED' });
    const overTrpc = await fetch(
      `${server.url}/trpc/operations.wait?input=${encodeURIComponent(JSON.stringify({ id: '6c7e3b27-7159-4e0a-9e30-3d44284574cd', timeout_ms: 100 }))}`,
      { headers: auth(key) },
    );
    expect(overTrpc.status).toBe(429);

    const other = await viewerKey('other-viewer');
    expect((await fetch(`${server.url}/api/v1/vms/${vmId}/wait?status=deleted&timeout_ms=100`, { headers: auth(other) })).status).toBe(200);

    held[0]!.abort();
    await pending[0];
    await expect
      .poll(async () => (await fetch(`${server.url}/api/v1/vms/${vmId}/wait?status=deleted&timeout_ms=100`, { headers: auth(key) })).status)
      .toBe(200);
    for (const c of held) c.abort();
    await Promise.all(pending);
  });

  it('over tRPC too: a caller that goes away gives its place back at once', async () => {
    const key = await viewerKey('leaving');
    const waitOverTrpc = (timeout_ms: number, signal?: AbortSignal) =>
      fetch(`${server.url}/trpc/vms.wait?input=${encodeURIComponent(JSON.stringify({ id: vmId, status: 'deleted', timeout_ms }))}`, {
        headers: auth(key),
        signal,
      });
    const held = Array.from({ length: 3 }, () => new AbortController());
    const pending = held.map((c, i) => waitOverTrpc(30_000, c.signal).catch(() => i));
    await new Promise((r) => setTimeout(r, 300));
    expect((await waitOverTrpc(100)).status).toBe(429);
    held[0]!.abort();
    await pending[0];
    await expect.poll(async () => (await waitOverTrpc(100)).status).toBe(200);
    for (const c of held) c.abort();
    await Promise.all(pending);
  });
});
