import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimulatedDriver } from '@hangar/core';
import { createTestDatabase } from '@hangar/core/testing';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { startServer } from '../src/server.js';
import { TEST_ADMIN_KEY } from '../src/testing.js';

const headers = { authorization: `Bearer ${TEST_ADMIN_KEY}`, 'content-type': 'application/json' };

/** The most operations `hangar serve`'s worker ran at once while carrying out `creates` slow creates. */
async function mostAtOnce(env: Record<string, string>, creates: number): Promise<number> {
  const dataDir = await mkdtemp(join(tmpdir(), 'hangar-worker-'));
  const database = await createTestDatabase();
  const server = await startServer({
    config: loadConfig({
      HOST: '127.0.0.1',
      PORT: '0',
      HANGAR_DATA_DIR: dataDir,
      HANGAR_BOOTSTRAP_API_KEY: TEST_ADMIN_KEY,
      LOG_LEVEL: 'silent',
      ...env,
    }),
    database,
    // Each hypervisor call takes a while: operations overlap, as they do on a busy host. Long
    // enough that every create is in before the first operation ends, on a slow machine too
    // (at 300 ms, CI's external-database pass once saw 63 at most: the 80 creates took longer
    // to arrive than the first operations took to run).
    driver: new SimulatedDriver({ config: { latency_ms: 1_000 } }),
    log: createLogger('silent'),
    worker: { poll_ms: 100 },
  });
  try {
    const worker = server.controlPlane.worker!;
    let most = 0;
    const sample = setInterval(() => (most = Math.max(most, worker.inFlight)), 2);
    await Promise.all(
      Array.from({ length: creates }, async (_, i) => {
        const res = await fetch(`${server.url}/api/v1/vms`, {
          method: 'POST',
          headers,
          body: JSON.stringify({ name: `vm-${i}`, cpu_cores: 1, memory_mb: 256, disk_gb: 1 }),
        });
        expect(res.status).toBe(201);
      }),
    );
    const open = async () => (await database.sql`SELECT count(*)::int AS n FROM operations WHERE status IN ('pending', 'running')`)[0]!.n;
    await expect.poll(open, { timeout: 30_000, interval: 50 }).toBe(0);
    clearInterval(sample);
    return most;
  } finally {
    await server.close();
    await database.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

describe("hangar serve's worker", () => {
  it('runs 64 operations at once by default, and HANGAR_WORKER_CONCURRENCY of them when set', async () => {
    expect(await mostAtOnce({}, 80)).toBe(64);
    expect(await mostAtOnce({ HANGAR_WORKER_CONCURRENCY: '3' }, 8)).toBe(3);
  });

  it('refuses a concurrency that is not a whole number from 1 to 1024', () => {
    for (const bad of ['0', '-1', '2.5', '1025', 'many']) {
      expect(() => loadConfig({ HANGAR_WORKER_CONCURRENCY: bad })).toThrow(/HANGAR_WORKER_CONCURRENCY/);
    }
  });
});
