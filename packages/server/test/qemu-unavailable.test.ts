import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Database } from '@hangar/core';
import { createTestDatabase } from '@hangar/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { type RunningServer, startServer } from '../src/server.js';
import { TEST_ADMIN_KEY, TEST_ADMIN_PASSWORD } from '../src/testing.js';

// Runs everywhere: it is about QEMU being absent.
describe('QEMU driver without a usable qemu-system-x86_64', () => {
  let database: Database;
  let dataDir: string;
  let server: RunningServer;
  const auth = { authorization: `Bearer ${TEST_ADMIN_KEY}`, 'content-type': 'application/json' };

  beforeAll(async () => {
    database = await createTestDatabase();
    dataDir = await mkdtemp(join(tmpdir(), 'hangar-noqemu-'));
    server = await startServer({
      config: loadConfig({
        PORT: '0',
        HANGAR_DATA_DIR: dataDir,
        HANGAR_DRIVER: 'qemu',
        HANGAR_QEMU_BINARY: '/nonexistent/qemu-system-x86_64',
        HANGAR_BOOTSTRAP_API_KEY: TEST_ADMIN_KEY,
        HANGAR_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD,
        LOG_LEVEL: 'silent',
      }),
      database,
      log: createLogger('silent'),
    });
  });
  afterAll(async () => {
    await server?.close();
    await database?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('starts, and answers 503 with the reason instead of creating VMs', async () => {
    const res = await fetch(`${server.url}/api/v1/vms`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ name: 'no-hypervisor', cpu_cores: 1, memory_mb: 256, disk_gb: 1 }),
    });
    expect(res.status).toBe(503);
    const body = (await res.json()) as { code: string; detail: string };
    expect(body.code).toBe('HOST_UNAVAILABLE');
    expect(body.detail).toContain('/nonexistent/qemu-system-x86_64 not found (install the qemu-system-x86 package)');

    const trpc = await fetch(`${server.url}/trpc/vms.create`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ name: 'no-hypervisor', cpu_cores: 1, memory_mb: 256, disk_gb: 1 }),
    });
    expect(trpc.status).toBe(503);
    const list = (await (await fetch(`${server.url}/api/v1/vms`, { headers: auth })).json()) as { total: number };
    expect(list.total).toBe(0);
  });

  it('shows the host offline with why', async () => {
    const [host] = await server.controlPlane.services.hosts.list();
    expect(host).toMatchObject({ driver: 'qemu', status: 'offline', status_reason: expect.stringContaining('not found') });
  });
});
