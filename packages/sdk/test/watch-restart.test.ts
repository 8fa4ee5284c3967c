import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Database } from '@hangar/core';
import { createTestDatabase, freePort } from '@hangar/core/testing';
import { type ServeProcess, serveProcess, TEST_ADMIN_KEY } from '@hangar/server/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, type WatchEvent } from '../src/index.js';

/**
 * A watcher through everything that breaks a stream: 500 operations at once, the connection cut
 * under it, and the server restarted. It must see every event of those operations exactly once,
 * in stream order, with nothing but the SDK's own reconnects.
 */

const VMS = 500;

let database: Database;
let dataDir: string;
let port: number;
let server: ServeProcess | undefined;
let proxy: Server;
const sockets = new Set<Socket>();

/** `hangar serve` on this file's database, always on the same port (a restart comes back where it was). */
const serve = () =>
  serveProcess({
    DATABASE_URL: database.url,
    HANGAR_DATA_DIR: dataDir,
    HANGAR_BOOTSTRAP_API_KEY: TEST_ADMIN_KEY,
    HANGAR_ADMIN_PASSWORD: 'not used here',
    HANGAR_SIM_LATENCY_MS: '5',
    HANGAR_SHUTDOWN_GRACE_MS: '500',
    PORT: String(port),
  });

beforeAll(async () => {
  database = await createTestDatabase();
  dataDir = await mkdtemp(join(tmpdir(), 'hangar-watch-restart-'));
  port = await freePort();
  server = await serve();
  // A TCP proxy between the watcher and the server, whose connections the test can cut.
  proxy = createServer((client) => {
    const upstream = new Socket();
    sockets.add(client);
    sockets.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    upstream.connect(port, '127.0.0.1', () => {
      client.pipe(upstream);
      upstream.pipe(client);
    });
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
});

afterAll(async () => {
  server?.child.kill('SIGKILL');
  await server?.exited;
  for (const s of sockets) s.destroy();
  proxy?.close();
  await database?.close();
  await rm(dataDir, { recursive: true, force: true });
});

const cutConnections = () => {
  for (const s of sockets) s.destroy();
};

describe('a watcher across a forced disconnect and a server restart', () => {
  it('sees every event of 500 concurrent operations exactly once, in order', { timeout: 180_000 }, async () => {
    const address = proxy.address() as { port: number };
    const watcher = new Client({ base_url: `http://127.0.0.1:${address.port}`, api_key: TEST_ADMIN_KEY });
    const direct = () => new Client({ base_url: `http://127.0.0.1:${port}`, api_key: TEST_ADMIN_KEY, max_retries: 20 });
    const [{ start }] = (await database.sql`SELECT coalesce(max(id), 0)::int AS start FROM events`) as unknown as [{ start: number }];

    const seen: WatchEvent[] = [];
    let reconnects = 0;
    const ctl = new AbortController();
    const reading = (async () => {
      for await (const e of watcher.watch({}, { signal: ctl.signal, max_backoff_ms: 500, onReconnect: () => reconnects++ })) seen.push(e);
    })();
    reading.catch(() => {});
    await expect.poll(() => sockets.size, { timeout: 10_000 }).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 200));

    // 500 creates at once, each an operation; the connection is cut while they run...
    const creates = (from: number, to: number) =>
      Promise.all(
        Array.from({ length: to - from }, (_, i) =>
          direct().createVm({ name: `restart-${from + i}`, cpu_cores: 1, memory_mb: 128, disk_gb: 1, start: true }),
        ),
      );
    const first = creates(0, VMS / 2);
    first.catch(() => {});
    await expect.poll(() => seen.length, { timeout: 30_000 }).toBeGreaterThan(100);
    cutConnections();
    await first;

    // ...and the server restarted while their operations still run; the rest are created after it.
    await expect.poll(() => reconnects, { timeout: 10_000 }).toBeGreaterThan(0);
    server!.child.kill('SIGTERM');
    expect(await server!.exited).toBe(0);
    server = await serve();
    await creates(VMS / 2, VMS);

    // Every operation ends; then the watcher has had every event written since it started.
    await expect
      .poll(async () => (await database.sql`SELECT count(*)::int AS n FROM operations WHERE status IN ('pending', 'running')`)[0]!.n, {
        timeout: 120_000,
        interval: 500,
      })
      .toBe(0);
    const rows = await database.sql`SELECT id FROM events WHERE id > ${start} ORDER BY id`;
    await expect.poll(() => seen.length, { timeout: 30_000, interval: 200 }).toBeGreaterThanOrEqual(rows.length);
    await new Promise((r) => setTimeout(r, 500));
    ctl.abort();
    await reading.catch(() => {});

    const eventIds = seen.map((e) => e.event_id);
    expect(new Set(eventIds).size).toBe(eventIds.length); // nothing twice
    expect([...eventIds].sort((a, b) => a - b)).toEqual(rows.map((r) => Number(r.id))); // nothing missed
    const positions = seen.map((e) => Number(e.id));
    expect(positions).toEqual([...positions].sort((a, b) => a - b)); // in stream order
    expect(seen.filter((e) => e.type === 'operation.succeeded').length).toBeGreaterThanOrEqual(VMS);
    expect(reconnects).toBeGreaterThanOrEqual(2); // the cut, and the restart
  });
});
