import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAlive, readSimulatorStore } from '@hangar/core';
import { afterAll, describe, expect, it } from 'vitest';
import { type ServeProcess, serveProcess } from '../../src/serve-process.js';
import { TEST_ADMIN_KEY } from '../../src/testing.js';

// `kill -9` of the whole server, its embedded PostgreSQL too, with a thousand operations in
// flight; then a plain start on the same data directory. Every operation ends, no VM is made
// twice, and the hypervisor holds no domain Hangar does not know.

const COUNT = Number(process.env.HANGAR_KILL_OPERATIONS ?? 1000);
let dir: string;
let server: ServeProcess | undefined;
afterAll(async () => {
  try {
    if (server?.child.pid) process.kill(-server.child.pid, 'SIGKILL');
  } catch {
    // The server is already gone (it failed to start, say).
  }
  await killPostmaster();
  await rm(dir, { recursive: true, force: true });
});

async function killPostmaster(): Promise<void> {
  const pid = Number((await readFile(join(dir, 'postgres', 'postmaster.pid'), 'utf8').catch(() => '')).split('\n')[0]);
  if (pid > 0) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
    // Gone, or a zombie nobody reaps (where PID 1 is not an init): the next start must cope.
    await expect.poll(() => isAlive(pid), { timeout: 10_000 }).toBe(false);
  }
}

const env = () => ({
  DATABASE_URL: undefined,
  HANGAR_DATA_DIR: dir,
  HANGAR_BOOTSTRAP_API_KEY: TEST_ADMIN_KEY,
  HANGAR_ADMIN_PASSWORD: 'kill-password-1234',
  // Each hypervisor call takes a while, as on a real host: operations are mid-call when it dies.
  HANGAR_SIM_LATENCY_MS: '200-800',
});

describe('kill -9 with operations in flight', () => {
  it(`of the server and its database, ${COUNT} operations in flight: all end after a restart, nothing made twice, no orphan domain`, async () => {
    dir = await mkdtemp(join(tmpdir(), 'hangar-kill-'));
    server = await serveProcess(env());
    const headers = { authorization: `Bearer ${TEST_ADMIN_KEY}`, 'content-type': 'application/json' };
    const api = (s: ServeProcess, path: string, init: RequestInit = {}) => fetch(`${s.url}/api/v1${path}`, { ...init, headers });

    const acknowledged: string[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < COUNT) {
          const i = next++;
          const res = await api(server!, '/vms', {
            method: 'POST',
            body: JSON.stringify({ name: `k-${i}`, cpu_cores: 1, memory_mb: 128, disk_gb: 1, start: true }),
          });
          expect(res.status).toBe(201);
          acknowledged.push(((await res.json()) as { vm: { id: string } }).vm.id);
        }
      }),
    );
    const pending = (await (await api(server, '/operations?status=pending&limit=100')).json()) as { operations: unknown[] };
    expect(pending.operations.length, 'operations still queued when the server is killed').toBeGreaterThan(0);

    process.kill(-server.child.pid!, 'SIGKILL');
    await killPostmaster();
    await server.exited;

    const t0 = Date.now();
    server = await serveProcess(env());
    const open = async () => {
      let n = 0;
      for (const status of ['pending', 'running']) {
        const page = (await (await api(server!, `/operations?status=${status}&limit=100`)).json()) as { operations: unknown[] };
        n += page.operations.length;
      }
      return n;
    };
    await expect.poll(open, { timeout: 300_000, interval: 1_000 }).toBe(0);
    const settledS = (Date.now() - t0) / 1000;

    const vms: { id: string; name: string; status: string }[] = [];
    for (let page = 1; ; page++) {
      const body = (await (await api(server, `/vms?per_page=100&page=${page}`)).json()) as { vms: typeof vms; total_pages: number };
      vms.push(...body.vms);
      if (page >= body.total_pages) break;
    }
    const byStatus: Record<string, number> = {};
    for (const v of vms) byStatus[v.status] = (byStatus[v.status] ?? 0) + 1;
    console.log(
      `kill -9 with ${COUNT} creates acknowledged: all operations ended ${settledS.toFixed(0)} s after the restart; VMs ${JSON.stringify(byStatus)}`,
    );

    // Every acknowledged VM is there, and running: each create (start: true) was carried out,
    // none failed for the kill (a create that gave up would leave its VM in error).
    expect(new Set(vms.map((v) => v.id))).toEqual(new Set(acknowledged));
    expect(byStatus).toEqual({ running: COUNT });

    // The hypervisor: one domain per VM that has one, none for anything else.
    process.kill(-server.child.pid!, 'SIGTERM');
    await server.exited;
    server = undefined;
    const stateDir = join(dir, 'simulator');
    const domains = [...readSimulatorStore(stateDir).domains.values()];
    const owners = domains.map((d) => d.vm_id);
    expect(owners.filter((id) => !id || !acknowledged.includes(id))).toEqual([]);
    expect(new Set(owners).size).toBe(owners.length);
  });
});
