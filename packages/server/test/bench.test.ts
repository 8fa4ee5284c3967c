import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';
import '@hangar/core/testing';

const run = promisify(execFile);
const SERVER = fileURLToPath(new URL('..', import.meta.url));
const TSX = createRequire(import.meta.url).resolve('tsx/cli');

// `pnpm bench --quick` must keep working; its numbers are not judged here (wall-clock on a shared machine).
describe('the benchmark suite', () => {
  it('runs in quick mode and writes every section', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hangar-bench-test-'));
    try {
      const out = join(dir, 'results.json');
      const { stdout } = await run(
        process.execPath,
        [TSX, 'bench/run.ts', '--quick', '--out', out, '--database-url', inject('pgAdminUrl')],
        {
          cwd: SERVER,
          timeout: 170_000,
        },
      );
      expect(stdout).toMatch(/read vms.get tRPC/);
      expect(stdout).toMatch(/SDK bundle \(min \+ gzip\)/);
      const r = JSON.parse(await readFile(out, 'utf8'));
      const positive = [
        r.read.trpc.rps,
        r.read.rest.rps,
        r.read.baseline.rps,
        r.read.ratio_trpc,
        r.read.ratio_rest,
        r.list[0].first.p99_ms,
        r.list[0].deep.p99_ms,
        r.read.cpu_us.trpc,
        r.read.cpu_us.rest,
        r.read.cpu_us.baseline,
        r.write.accepted_per_s,
        r.write.hangar_per_s,
        r.write.baseline_per_s,
        r.write.vm_row_per_s,
        r.write.ratio,
        r.worker.ops_per_s,
        r.worker.baseline_claims_per_s,
        r.worker.wait_p99_ms,
        r.footprint.rss_idle,
        r.footprint.rss_under_load,
        r.footprint.sdk_bundle.gzipped,
        r.startup.fresh.healthy_ms,
        r.startup.existing.healthy_ms,
        r.startup.baseline.fresh_ms,
        r.startup.baseline.existing_ms,
        r.startup.fresh.split.total,
        ...r.fleet.flatMap((f: Record<string, number>) => [f.placement_per_s, f.claim_p99_ms, f.idle_statements_per_s]),
      ];
      expect(r.fleet.map((f: { hosts: number }) => f.hosts)).toEqual([1, 10]);
      for (const v of positive) expect(Number.isFinite(v) && v > 0, JSON.stringify(r)).toBe(true);
      expect(Object.keys(r.startup.existing.split)).toEqual(['process', 'postgres', 'migrations', 'control_plane', 'bootstrap', 'total']);
      expect(stdout).toMatch(/start to healthy \/healthz \(fresh data dir/);
      expect(r.mode).toBe('quick');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
