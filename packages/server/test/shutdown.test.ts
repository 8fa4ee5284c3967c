import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Database } from '@hangar/core';
import { createTestDatabase } from '@hangar/core/testing';
import { createTRPCClient, httpLink } from '@trpc/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppRouter } from '../src/router.js';
import { serveProcess } from '../src/serve-process.js';
import { TEST_ADMIN_KEY } from '../src/testing.js';

let database: Database;
let dataDir: string;
beforeAll(async () => {
  database = await createTestDatabase();
  dataDir = await mkdtemp(join(tmpdir(), 'hangar-sigterm-'));
});
afterAll(async () => {
  await database?.close();
  await rm(dataDir, { recursive: true, force: true });
});

const trpcClient = (url: string) =>
  createTRPCClient<AppRouter>({
    links: [httpLink({ url: `${url}/trpc`, headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } })],
  });

/** `hangar serve` on this file's database and data directory. */
const serve = (env: Record<string, string>) =>
  serveProcess({
    DATABASE_URL: database.url,
    HANGAR_DATA_DIR: dataDir,
    HANGAR_BOOTSTRAP_API_KEY: TEST_ADMIN_KEY,
    HANGAR_ADMIN_PASSWORD: 'not used here',
    ...env,
  });

describe('SIGTERM with operations in flight', () => {
  it('exits cleanly and loses no operation: the next server finishes them', async () => {
    // Hypervisor calls take 1.5 s and shutdown allows 200 ms: operations are cut off mid-call.
    const first = await serve({ HANGAR_SIM_LATENCY_MS: '1500', HANGAR_SHUTDOWN_GRACE_MS: '200' });
    const client = trpcClient(first.url);
    const created = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        client.vms.create.mutate({ name: `sigterm-${i}`, start: true, cpu_cores: 1, memory_mb: 128, disk_gb: 1 }),
      ),
    );
    const ids = created.map((c) => c.operation!.id);
    await expect
      .poll(async () => (await database.sql`SELECT count(*)::int AS n FROM operations WHERE status = 'running'`)[0]!.n, { timeout: 10_000 })
      .toBeGreaterThan(0);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);

    const open = await database.sql`SELECT status, lease_owner FROM operations WHERE id = ANY(${ids}) AND status IN ('pending', 'running')`;
    expect(open.length).toBeGreaterThan(0); // cut off, not finished...
    expect(open.every((o) => o.lease_owner === null)).toBe(true); // ...and released

    const second = await serve({ HANGAR_SIM_LATENCY_MS: '10' });
    try {
      const next = trpcClient(second.url);
      for (const id of ids) {
        const { operation: op } = await next.operations.wait.query({ id, timeout_ms: 20_000 });
        expect(op.status, op.error ?? '').toBe('succeeded');
      }
      for (const c of created) expect((await next.vms.get.query({ id: c.vm.id })).status).toBe('running');
      // Exactly one domain per VM on the (simulated, persisted) hypervisor.
      const refs = await database.sql`SELECT domain_ref FROM vms WHERE id = ANY(${created.map((c) => c.vm.id)})`;
      expect(new Set(refs.map((r) => r.domain_ref)).size).toBe(6);
    } finally {
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);
    }
  }, 90_000);
});
