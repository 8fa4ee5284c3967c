import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostAgent, ImageStore, openDatabase, SimulatedDriver, silentLogger } from '@hangar/core';
import { createTRPCClient, httpLink } from '@trpc/client';
import { HttpAgentLink } from '../../src/agent/http-link.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import type { AppRouter } from '../../src/router.js';
import { startServer } from '../../src/server.js';
import { benchDatabase } from '../lib/database.js';
import { percentile, pool } from '../lib/load.js';

export interface FleetPoint {
  hosts: number;
  /** Creates answered per second (each one placed atomically on a host), 16 at a time. */
  placement_per_s: number;
  /** From an operation queued to an agent's claim of it (its `started_at`), one at a time. */
  claim_p50_ms: number;
  claim_p99_ms: number;
  /** Statements the API sent PostgreSQL per second while the fleet sat idle (heartbeats and waiting claims). */
  idle_statements_per_s: number;
  idle_statements_per_s_per_host: number;
}

/**
 * The fleet at several sizes: an API-only server and N agents in this process (each with its
 * own simulated host, talking HTTP to the API as `hangar agent` does), on a fresh database per
 * size.
 */
export async function fleetPath(opts: {
  adminUrl: string | undefined;
  sizes: number[];
  creates: number;
  /** Single creates timed from queueing to claim. */
  samples: number;
  idle_s: number;
  log: (m: string) => void;
}): Promise<FleetPoint[]> {
  const points: FleetPoint[] = [];
  for (const n of opts.sizes) {
    opts.log(`fleet of ${n} hosts`);
    points.push(await measure(n, opts));
  }
  return points;
}

async function measure(
  n: number,
  opts: { adminUrl: string | undefined; creates: number; samples: number; idle_s: number },
): Promise<FleetPoint> {
  const dir = await mkdtemp(join(tmpdir(), 'hangar-bench-fleet-'));
  let statements = 0;
  // A fresh database (embedded, or on the server given); the API's own connection counts its statements.
  const fresh = await benchDatabase(opts.adminUrl);
  const database = await openDatabase({ url: fresh.url, max: 20, onStatement: () => statements++ });
  const apiKey = 'hgr_bench_fleet_key_0123456789abcdef';
  const server = await startServer({
    config: loadConfig({
      HOST: '127.0.0.1',
      PORT: '0',
      HANGAR_MODE: 'api',
      HANGAR_DATA_DIR: join(dir, 'api'),
      HANGAR_BOOTSTRAP_API_KEY: apiKey,
      HANGAR_ADMIN_PASSWORD: 'not used in the bench',
      LOG_LEVEL: 'silent',
    }),
    database,
    log: createLogger('silent'),
  });
  const agents: HostAgent[] = [];
  try {
    const api = createTRPCClient<AppRouter>({
      links: [httpLink({ url: `${server.url}/trpc`, headers: { authorization: `Bearer ${apiKey}` } })],
    });
    const { token } = await api.join_tokens.create.mutate({});
    await pool(n, 32, async (i) => {
      const link = new HttpAgentLink({ urls: [server.url] });
      const driver = new SimulatedDriver({
        config: { seed: i, capacity: { cpus: 256, memory_mb: 1_048_576, disk_gb: 16_000 } },
        disk_dir: join(dir, `host-${i}`),
        bytes_per_gb: 1,
      });
      const inventory = await driver.inventory();
      const joined = await link.join({ token, name: `host-${i}`, driver: 'simulated', version: 'bench', inventory });
      link.setCredential(joined.credential);
      const images = new ImageStore(join(dir, `host-${i}`, 'images'));
      const agent = new HostAgent({
        link,
        driver,
        host_id: joined.host_id,
        version: 'bench',
        images,
        scratch_dir: join(dir, `host-${i}`, 'imports'),
        logger: silentLogger,
      });
      await agent.start();
      agents.push(agent);
    });

    // Placement: creates answered per second, each placed in its own transaction.
    const t0 = performance.now();
    await pool(opts.creates, 16, async (i) => {
      await api.vms.create.mutate({ name: `f-${i}`, cpu_cores: 1, memory_mb: 256, disk_gb: 1 });
    });
    const placement_per_s = opts.creates / ((performance.now() - t0) / 1000);
    for (;;) {
      const [{ open }] =
        (await database.sql`SELECT count(*)::int AS open FROM operations WHERE status IN ('pending', 'running')`) as unknown as [
          { open: number },
        ];
      if (open === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    // Claim latency: one create at a time, so each is the time from its queueing to a claim
    // (through NOTIFY, the agent's waiting claim and its answer), not a burst's backlog.
    const waits: number[] = [];
    for (let i = 0; i < opts.samples; i++) {
      const r = await api.vms.create.mutate({ name: `lat-${i}`, cpu_cores: 1, memory_mb: 256, disk_gb: 1 });
      for (;;) {
        const [row] =
          await database.sql`SELECT extract(epoch FROM (started_at - created_at)) * 1000 AS ms FROM operations WHERE id = ${r.operation!.id} AND started_at IS NOT NULL`;
        if (row) {
          waits.push(Number(row.ms));
          break;
        }
        await new Promise((res) => setTimeout(res, 5));
      }
    }
    // Idle: nothing queued, every agent heartbeating and waiting in a claim.
    await new Promise((r) => setTimeout(r, 1_000));
    const before = statements;
    await new Promise((r) => setTimeout(r, opts.idle_s * 1000));
    const idle = (statements - before) / opts.idle_s;
    return {
      hosts: n,
      placement_per_s,
      claim_p50_ms: percentile(waits, 50),
      claim_p99_ms: percentile(waits, 99),
      idle_statements_per_s: idle,
      idle_statements_per_s_per_host: idle / n,
    };
  } finally {
    await Promise.all(agents.map((a) => a.stop(1_000)));
    await server.close();
    await database.close();
    await fresh.close();
    await rm(dir, { recursive: true, force: true });
  }
}
