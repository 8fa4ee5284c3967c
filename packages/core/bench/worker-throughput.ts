/**
 * How many operations per second the worker completes on the simulated driver at zero
 * latency. Run: pnpm --filter @hangar/core bench [-- --vms 500 --concurrency 16]
 * Uses DATABASE_URL when set, else an embedded PostgreSQL in a temporary directory.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  createServices,
  ensureProject,
  Notifier,
  openDatabase,
  registerHost,
  SimulatedDriver,
  silentLogger,
  Worker,
} from '../src/index.js';

const { values } = parseArgs({
  options: {
    vms: { type: 'string', default: '400' },
    concurrency: { type: 'string', default: '16' },
  },
});
const count = Number(values.vms);
const concurrency = Number(values.concurrency);

const dir = await mkdtemp(join(tmpdir(), 'hangar-bench-'));
const database = await openDatabase({ dataDir: dir, max: 30, unsafeFast: process.env.BENCH_UNSAFE_FAST === '1' });
try {
  const driver = new SimulatedDriver();
  const host = await registerHost(database.db, { name: 'bench', driver: driver.kind, inventory: await driver.inventory() });
  const project = await ensureProject(database.db, 'bench');
  const scope = { project_id: project.id };
  const notifier = await Notifier.start(database.sql);
  const services = createServices({ db: database.db, notifier });
  const worker = new Worker({
    db: database.db,
    drivers: new Map([[host.id, driver]]),
    notifier,
    concurrency,
    logger: silentLogger,
  });

  // Phase 1: queue `count` creates, then let the worker run them.
  const created = [];
  for (let i = 0; i < count; i++) {
    created.push(await services.vms.create(scope, { name: `bench-${i}`, cpu_cores: 1, memory_mb: 128, disk_gb: 1 }));
  }
  const run = async (label: string, ids: string[]) => {
    const t0 = performance.now();
    worker.start();
    // One cheap poll instead of a waiter per operation, so the harness does not compete with the worker.
    for (;;) {
      const [row] = await database.sql<{ n: number }[]>`
        SELECT count(*)::int AS n FROM operations WHERE id = ANY(${ids}) AND status IN ('pending', 'running')`;
      if (row?.n === 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const seconds = (performance.now() - t0) / 1000;
    await worker.stop();
    const rate = ids.length / seconds;
    console.log(
      `${label.padEnd(8)} ${String(ids.length).padStart(6)} operations in ${seconds.toFixed(2)} s = ${rate.toFixed(0)} ops/s (concurrency ${concurrency})`,
    );
    return rate;
  };
  const createRate = await run(
    'create',
    created.map((c) => c.operation!.id),
  );

  // Phase 2: start them all (each a state change on the hypervisor).
  const starts = [];
  for (const c of created) starts.push(await services.vms.start(scope, c.vm.id));
  const startRate = await run(
    'start',
    starts.map((s) => s.operation!.id),
  );

  console.log(
    JSON.stringify({
      bench: 'worker-throughput',
      vms: count,
      concurrency,
      create_ops_per_s: Math.round(createRate),
      start_ops_per_s: Math.round(startRate),
    }),
  );
  await notifier.close();
} finally {
  await database.close();
  await rm(dir, { recursive: true, force: true });
}
