import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type EmbeddedCluster, openDatabase, startEmbeddedPostgres } from '@hangar/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, TEST_ADMIN_PASSWORD, type TestServer } from '../src/testing.js';

// A PostgreSQL of this file's own, so it can be stopped under a running server.
let dir: string;
let cluster: EmbeddedCluster;
let server: TestServer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hangar-outage-'));
  cluster = await startEmbeddedPostgres({ dir, unsafeFast: true });
  const database = await openDatabase({ url: cluster.url, max: 4 });
  server = await startTestServer({ database });
}, 60_000);

afterAll(async () => {
  await server?.stop().catch(() => {});
  await server?.database.close().catch(() => {});
  await cluster?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('a database outage', () => {
  it('is answered 503 DATABASE_UNAVAILABLE with a retry hint, over REST and tRPC, and the server lives on', async () => {
    const auth = { authorization: `Bearer ${server.apiKey}` };
    expect((await fetch(`${server.url}/api/v1/vms`, { headers: auth })).status).toBe(200);

    await cluster.stop();

    const rest = await fetch(`${server.url}/api/v1/vms`, { headers: auth });
    expect(rest.status).toBe(503);
    expect(rest.headers.get('x-should-retry')).toBe('true');
    expect(await rest.json()).toMatchObject({ code: 'DATABASE_UNAVAILABLE' });

    const trpc = await fetch(`${server.url}/trpc/vms.list`, { headers: auth });
    expect(trpc.status).toBe(503);
    expect(((await trpc.json()) as { error: { data: { code: string; should_retry: boolean } } }).error.data).toMatchObject({
      code: 'DATABASE_UNAVAILABLE',
      should_retry: true,
    });

    // Signing in needs the database too; it is an outage, not a wrong password.
    const login = await fetch(`${server.url}/api/v1/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: TEST_ADMIN_PASSWORD }),
    });
    expect(login.status).toBe(503);
    expect(await login.json()).toMatchObject({ code: 'DATABASE_UNAVAILABLE' });

    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${server.url}/readyz`)).status).toBe(503);

    // Back on the same address: the server serves again without a restart of its own.
    cluster = await startEmbeddedPostgres({ dir, unsafeFast: true, port: cluster.port });
    await expect.poll(async () => (await fetch(`${server.url}/api/v1/vms`, { headers: auth })).status, { timeout: 15_000 }).toBe(200);
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
  });
});
