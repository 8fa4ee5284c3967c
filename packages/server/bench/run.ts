/**
 * `pnpm bench`: how fast the control plane is, as ratios against baselines measured in the
 * same run on the same machine. A table on stdout and a JSON file.
 *   --quick             small sizes and short runs (under a minute; the test suite runs it)
 *   --out FILE          where the JSON goes (default bench-results.json in the working directory)
 *   --database-url URL  a PostgreSQL server to make a fresh database on (default: DATABASE_URL, else embedded)
 */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { BENCH_API_KEY, startBenchHangar } from './lib/bench-hangar.js';
import { benchDatabase } from './lib/database.js';
import { rss, startBaseline } from './lib/processes.js';
import { kb, mb, ms, perS, type Row, table, us } from './lib/report.js';
import { seedVms } from './lib/seed.js';
import { fleetPath } from './sections/fleet.js';
import { sdkBundleSize } from './sections/footprint.js';
import { type ListResults, listPath } from './sections/list.js';
import { readPath } from './sections/read.js';
import { startupPath } from './sections/startup.js';
import { workerPath } from './sections/worker.js';
import { writePath } from './sections/write.js';

const { values } = parseArgs({
  options: { quick: { type: 'boolean', default: false }, out: { type: 'string' }, 'database-url': { type: 'string' } },
});
const quick = values.quick!;
const size = quick
  ? { seconds: 2, connections: 16, seed: 2_000, lists: [5_000], creates: 48, waiters: 8, rounds: 2 }
  : { seconds: 10, connections: 16, seed: 100_000, lists: [100_000, 1_000_000], creates: 400, waiters: 16, rounds: 5 };
const apiKey = BENCH_API_KEY;
const log = (m: string) => process.stderr.write(`[bench] ${m}\n`);

// First, alone on the machine: how long `hangar serve` takes to answer, fresh and again.
log('start-up');
const startup = await startupPath(quick ? 1 : 3);

const db = await benchDatabase(values['database-url'] ?? process.env.DATABASE_URL);
const { hangar, ids, close } = await startBenchHangar({ url: db.url, sql: db.database.sql });
const baseline = await startBaseline(db.url);
try {
  const sql = db.database.sql;
  await sleep(2_000);
  const idleRss = await rss(hangar.pid);

  log(`seeding ${size.seed} VMs`);
  await seedVms(sql, { ...ids, from: 1, count: size.seed });
  const [one] = await sql`SELECT id FROM vms WHERE name = 'seed-1'`;

  log('read path');
  const read = await readPath({ hangar, baseline, apiKey, vmId: one!.id as string, seconds: size.seconds, connections: size.connections });

  log('write path');
  const write = await writePath({ url: hangar.url, apiKey, databaseUrl: db.url, ...ids, count: size.creates, concurrency: 16 });

  log('worker');
  const worker = await workerPath({ url: hangar.url, apiKey, sql, vm_ids: write.vm_ids, waiters: size.waiters, rounds: size.rounds });

  const lists: ListResults[] = [];
  let seeded = size.seed;
  for (const total of size.lists) {
    log(`list path at ${total} VMs`);
    lists.push(await listPath({ sql, url: hangar.url, apiKey, ...ids, seeded, total, seconds: size.seconds }));
    seeded = total;
  }

  const bundle = await sdkBundleSize();

  const fleet = await fleetPath({
    adminUrl: values['database-url'] ?? process.env.DATABASE_URL,
    sizes: quick ? [1, 10] : [1, 10, 100, 1000],
    creates: quick ? 20 : 200,
    samples: quick ? 10 : 100,
    idle_s: quick ? 2 : 15,
    log,
  });
  const smallest = fleet[0]!;
  const largest = fleet[fleet.length - 1]!;

  const rows: Row[] = [
    {
      metric: 'read vms.get tRPC',
      hangar: `${perS(read.trpc.rps)} p50 ${ms(read.trpc.p50_ms)} p99 ${ms(read.trpc.p99_ms)}, ${us(read.cpu_us.trpc)} CPU/req`,
      baseline: `${perS(read.baseline.rps)} p50 ${ms(read.baseline.p50_ms)} p99 ${ms(read.baseline.p99_ms)}, ${us(read.cpu_us.baseline)} CPU/req`,
      ratio: read.ratio_trpc,
      goal: '>= 0.70x',
      met: read.ratio_trpc >= 0.7,
    },
    {
      metric: 'read vms.get REST',
      hangar: `${perS(read.rest.rps)} p50 ${ms(read.rest.p50_ms)} p99 ${ms(read.rest.p99_ms)}, ${us(read.cpu_us.rest)} CPU/req`,
      baseline: perS(read.baseline.rps),
      ratio: read.ratio_rest,
      goal: '>= 0.70x',
      met: read.ratio_rest >= 0.7,
    },
    ...lists.flatMap((l): Row[] => [
      {
        metric: `list first page @${l.vms}`,
        hangar: `p50 ${ms(l.first.p50_ms)} p99 ${ms(l.first.p99_ms)} (${perS(l.first.rps)})`,
        goal: 'p99 <= 15 ms',
        met: l.first.p99_ms <= 15,
      },
      {
        metric: `list deep page @${l.vms}`,
        hangar: `p50 ${ms(l.deep.p50_ms)} p99 ${ms(l.deep.p99_ms)} (${perS(l.deep.rps)})`,
        baseline: `first p99 ${ms(l.first.p99_ms)}`,
        ratio: l.deep_over_first_p99,
        goal: '<= 1.50x first',
        met: l.deep_over_first_p99 <= 1.5,
      },
    ]),
    {
      metric: `write POST /vms 201 (c=${write.concurrency})`,
      hangar: perS(write.accepted_per_s),
      baseline: `${perS(write.baseline_per_s)} raw INSERTs of its rows (VM row alone ${perS(write.vm_row_per_s)}, ${(write.accepted_per_s / write.vm_row_per_s).toFixed(2)}x)`,
      ratio: write.accepted_ratio,
      goal: '>= 0.50x',
      met: write.accepted_ratio >= 0.5,
    },
    {
      metric: `write create->stable ?wait (c=${write.concurrency})`,
      hangar: perS(write.hangar_per_s),
      baseline: `${perS(write.baseline_per_s)} raw INSERTs of its rows (VM row alone: ${(write.hangar_per_s / write.vm_row_per_s).toFixed(2)}x)`,
      ratio: write.ratio,
      goal: '>= 0.25x',
      met: write.ratio >= 0.25,
    },
    {
      metric: 'worker operations (starts queued at once)',
      hangar: perS(worker.ops_per_s),
      baseline: `${perS(worker.baseline_claims_per_s)} bare claims`,
      ratio: worker.ratio,
      goal: '>= 1000/s and >= 0.50x',
      met: worker.ops_per_s >= 1000 && worker.ratio >= 0.5,
    },
    {
      metric: 'change -> vms.wait caller',
      hangar: `p50 ${ms(worker.wait_p50_ms)} p99 ${ms(worker.wait_p99_ms)} (${worker.wait_samples} samples)`,
    },
    ...fleet.map(
      (f): Row => ({
        metric: `fleet @${f.hosts} hosts`,
        hangar: `place ${perS(f.placement_per_s)}, claim p50 ${ms(f.claim_p50_ms)} p99 ${ms(f.claim_p99_ms)}, idle ${f.idle_statements_per_s.toFixed(1)} stmt/s (${f.idle_statements_per_s_per_host.toFixed(2)}/host)`,
        goal: 'claim p99 < 100 ms',
        met: f.claim_p99_ms < 100,
      }),
    ),
    {
      metric: `fleet idle cost per host @${largest.hosts} vs @${smallest.hosts}`,
      hangar: `${largest.idle_statements_per_s_per_host.toFixed(2)} stmt/s/host`,
      baseline: `${smallest.idle_statements_per_s_per_host.toFixed(2)} stmt/s/host`,
      ratio: largest.idle_statements_per_s_per_host / smallest.idle_statements_per_s_per_host,
      goal: '<= 1.00x (linear or better)',
      met: largest.idle_statements_per_s_per_host <= smallest.idle_statements_per_s_per_host * 1.05,
    },
    { metric: 'server RSS idle', hangar: mb(idleRss), goal: '<= 100 MB', met: idleRss <= 100 * 2 ** 20 },
    { metric: 'server RSS under read load', hangar: mb(read.rss_under_load), goal: '<= 160 MB', met: read.rss_under_load <= 160 * 2 ** 20 },
    ...(['fresh', 'existing'] as const).map(
      (k): Row => ({
        metric: `start to healthy /healthz (${k} data dir, ${startup[k].code})`,
        hangar: `${ms(startup[k].healthy_ms)} (${Object.entries(startup[k].split)
          .map(([step, v]) => `${step} ${v}`)
          .join(', ')} ms)`,
        baseline: `${ms(k === 'fresh' ? startup.baseline.fresh_ms : startup.baseline.existing_ms)} PostgreSQL alone`,
        goal: k === 'fresh' ? '<= 2000 ms' : '<= 1000 ms',
        met: startup[k].healthy_ms <= (k === 'fresh' ? 2000 : 1000),
      }),
    ),
    { metric: 'SDK bundle (min + gzip)', hangar: `${kb(bundle.gzipped)} (${kb(bundle.minified)} minified)` },
  ];
  const results = {
    when: new Date().toISOString(),
    mode: quick ? 'quick' : 'full',
    machine: { cpus: (await import('node:os')).availableParallelism(), node: process.version },
    read,
    list: lists,
    write: { ...write, vm_ids: undefined },
    worker,
    fleet,
    startup,
    footprint: { rss_idle: idleRss, rss_under_load: read.rss_under_load, sdk_bundle: bundle },
  };
  const out = resolve(values.out ?? 'bench-results.json');
  await writeFile(out, `${JSON.stringify(results, null, 2)}\n`);
  console.log(table(rows));
  console.log(`\nresults: ${out}`);
} finally {
  await close();
  await baseline.stop();
  await db.close();
}
