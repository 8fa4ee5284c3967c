import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../src/testing.js';

// HEAD is GET without the body; where a GET streams or starts work, running it for a HEAD would
// take what no one reads (a watch slot held until shutdown, an export operation).

let server: TestServer;
let vmId: string;
beforeAll(async () => {
  // Few watch slots, so HEADs that each kept one would use them up.
  server = await startTestServer({ env: { HANGAR_MAX_WAITS_PER_PRINCIPAL: '4' } });
  const res = await fetch(`${server.url}/api/v1/vms?wait=true`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'head-target', cpu_cores: 1, memory_mb: 256, disk_gb: 1 }),
  });
  vmId = ((await res.json()) as { vm: { id: string } }).vm.id;
});
afterAll(() => server?.stop());

const head = (path: string) => fetch(`${server.url}${path}`, { method: 'HEAD', headers: { authorization: `Bearer ${server.apiKey}` } });

describe('HEAD', () => {
  it('is refused (405, Allow: GET) where a GET streams or starts work, and takes nothing', async () => {
    const operations = async () => (await server.database.sql`SELECT count(*)::int AS n FROM operations`)[0]!.n as number;
    const before = await operations();
    const paths = [
      '/api/v1/events/stream',
      `/api/v1/vms/${vmId}/export`,
      // The by-name dialect's downloads, which forward to the native export.
      '/vms/head-target/export',
      '/vms/head-target/exportCompressed',
      '/agent/v1/transfers/x/disks/disk0.img',
      '/agent/v1/images/x/content',
    ];
    // More HEADs of the stream than the principal has watch slots: each would have kept one.
    for (const path of [...paths, ...Array.from({ length: 8 }, () => '/api/v1/events/stream')]) {
      const res = await head(path);
      expect(res.status, path).toBe(405);
      expect(res.headers.get('allow'), path).toBe('GET');
    }
    // tRPC answers HEAD itself (204), without running the subscription.
    for (let i = 0; i < 8; i++) expect((await head(`/trpc/events.watch?input=${encodeURIComponent('{}')}`)).status).toBe(204);
    expect(await operations()).toBe(before);
    // The principal's slots are all free: its stream still opens.
    const ctl = new AbortController();
    const stream = await fetch(`${server.url}/api/v1/events/stream`, {
      headers: { authorization: `Bearer ${server.apiKey}`, accept: 'text/event-stream' },
      signal: ctl.signal,
    });
    expect(stream.status).toBe(200);
    ctl.abort();
  });

  it('answers other GET routes as GET, without the body', async () => {
    for (const path of ['/healthz', `/api/v1/vms/${vmId}`, '/api/v1/vms', '/openapi.json']) {
      const res = await head(path);
      expect(res.status, path).toBe(200);
      expect(await res.text(), path).toBe('');
    }
    // A REST read's errors too: a VM that is not there.
    expect((await head('/api/v1/vms/00000000-0000-4000-8000-000000000000')).status).toBe(404);
  });
});
