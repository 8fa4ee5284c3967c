import { lstat, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Database, SimulatedDriver } from '@hangar/core';
import { createTestDatabase } from '@hangar/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { type RunningServer, startServer } from '../src/server.js';
import { TEST_ADMIN_KEY } from '../src/testing.js';

// Disks, images, imports and the simulator's state are tenants' data: after a server has made
// each kind, no file under its data directory may be readable, and no directory enterable, by
// anyone but Hangar's user.

let parent: string;
let dataDir: string;
let database: Database;
let server: RunningServer;
const auth = { authorization: `Bearer ${TEST_ADMIN_KEY}` };

beforeAll(async () => {
  parent = await mkdtemp(join(tmpdir(), 'hangar-modes-'));
  dataDir = join(parent, 'data'); // made by the server
  database = await createTestDatabase();
  server = await startServer({
    config: loadConfig({
      HOST: '127.0.0.1',
      PORT: '0',
      HANGAR_DATA_DIR: dataDir,
      HANGAR_BOOTSTRAP_API_KEY: TEST_ADMIN_KEY,
      HANGAR_ADMIN_PASSWORD: 'not the default 123',
      LOG_LEVEL: 'silent',
    }),
    database,
    driver: new SimulatedDriver({
      disk_dir: join(dataDir, 'sim-disks'),
      bytes_per_gb: 2 ** 20,
      config: { state_dir: join(dataDir, 'simulator') },
    }),
    log: createLogger('silent'),
    worker: { poll_ms: 100 },
  });
});

afterAll(async () => {
  await server?.close();
  await database?.close();
  await rm(parent, { recursive: true, force: true });
});

async function walk(dir: string): Promise<{ path: string; mode: number; dir: boolean }[]> {
  const out = [{ path: dir, mode: (await lstat(dir)).mode & 0o777, dir: true }];
  for (const name of await readdir(dir)) {
    const path = join(dir, name);
    const st = await lstat(path);
    if (st.isDirectory()) out.push(...(await walk(path)));
    else out.push({ path, mode: st.mode & 0o777, dir: false });
  }
  return out;
}

describe('files Hangar writes', () => {
  it('are 0600 in 0700 directories: disks, images, imports, simulator state', async () => {
    const upload = await fetch(`${server.url}/api/v1/images/upload?name=tiny.iso&kind=iso`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/octet-stream' },
      body: Buffer.concat([Buffer.alloc(32769), Buffer.from('CD001'), Buffer.alloc(8186)]),
    });
    expect(upload.status).toBe(201);
    const created = await fetch(`${server.url}/api/v1/vms?wait=true`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'private', cpu_cores: 1, memory_mb: 256, disk_gb: 1 }),
    });
    const { vm } = (await created.json()) as { vm: { id: string } };
    const archive = Buffer.from(await (await fetch(`${server.url}/api/v1/vms/${vm.id}/export`, { headers: auth })).arrayBuffer());
    const imported = await fetch(`${server.url}/api/v1/vms/import?name=private-copy`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/x-tar' },
      body: archive,
    });
    expect(imported.status).toBe(201);

    const entries = await walk(dataDir);
    const kinds = entries.map((e) => e.path.slice(dataDir.length));
    // Each kind of file was made, so the modes below are checked on real examples.
    expect(kinds.filter((p) => p.startsWith('/images/') && !p.includes('.partial'))).not.toHaveLength(0);
    expect(kinds.filter((p) => p.startsWith('/sim-disks/'))).toHaveLength(2);
    expect(kinds).toContain('/imports');
    expect(kinds).toContain('/simulator');
    expect(kinds).toContain('/simulator/domains.log');
    const open = entries.filter((e) => e.mode !== (e.dir ? 0o700 : 0o600)).map((e) => `${e.path} ${e.mode.toString(8)}`);
    expect(open).toEqual([]);
  });
});
