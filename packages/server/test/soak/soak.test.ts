import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { type ServeProcess, serveProcess } from '../../src/serve-process.js';
import { TEST_ADMIN_KEY } from '../../src/testing.js';

// 200 clients for 2 minutes (HANGAR_SOAK_S), each looping create -> get -> list -> delete
// against `hangar serve` as `pnpm start` runs it (embedded PostgreSQL, simulated hypervisor).
// No answer may be a 5xx other than a 503 that says when to retry; latency and memory are reported.

const SECONDS = Number(process.env.HANGAR_SOAK_S ?? 120);
const CLIENTS = Number(process.env.HANGAR_SOAK_CLIENTS ?? 200);

let dir: string;
let server: ServeProcess | undefined;
afterAll(async () => {
  if (server?.child.pid) process.kill(-server.child.pid, 'SIGTERM');
  await server?.exited;
  await rm(dir, { recursive: true, force: true });
});

const rssMb = async (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
const p = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] ?? 0;

describe('a soak', () => {
  it(`of ${CLIENTS} clients for ${SECONDS} s answers no 5xx but retryable 503s, and the server's memory stays flat`, async () => {
    dir = await mkdtemp(join(tmpdir(), 'hangar-soak-'));
    server = await serveProcess({
      DATABASE_URL: undefined,
      HANGAR_DATA_DIR: dir,
      HANGAR_BOOTSTRAP_API_KEY: TEST_ADMIN_KEY,
      HANGAR_ADMIN_PASSWORD: 'soak-password-1234',
    });
    const headers = { authorization: `Bearer ${TEST_ADMIN_KEY}`, 'content-type': 'application/json' };
    const call = async (method: string, path: string, body?: unknown) => {
      const t0 = performance.now();
      const res = await fetch(`${server!.url}/api/v1${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return {
        status: res.status,
        ms: performance.now() - t0,
        retryAfter: res.headers.get('retry-after'),
        text,
        json: () => JSON.parse(text),
      };
    };
    const idle = await rssMb(server.child.pid!);
    // Memory is compared from a quarter into the run (the working set under this load, heaps
    // grown to it) to the end: growth after that is what a leak looks like.
    let warm = 0;
    const samples: number[] = [];
    const sampler = setInterval(() => void rssMb(server!.child.pid!).then((m) => samples.push(Math.round(m))), 10_000);
    const warmed = sleep((SECONDS * 1000) / 4).then(async () => (warm = await rssMb(server!.child.pid!)));

    const latencies: number[] = [];
    const statuses = new Map<number, number>();
    const bad: string[] = [];
    const end = Date.now() + SECONDS * 1000;
    const note = (what: string, r: { status: number; ms: number; retryAfter: string | null; text: string }) => {
      latencies.push(r.ms);
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      // The answer's body says which error it was; the server's log (below) says where.
      if (r.status >= 500 && !(r.status === 503 && r.retryAfter)) bad.push(`${what} ${r.status} ${r.text.slice(0, 300)}`);
    };
    let loops = 0;
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, c) => {
        for (let i = 0; Date.now() < end; i++) {
          const created = await call('POST', '/vms', { name: `soak-${c}-${i}`, cpu_cores: 1, memory_mb: 128, disk_gb: 1 });
          note('create', created);
          if (created.status !== 201) {
            await sleep(200);
            continue;
          }
          const id = created.json().vm.id as string;
          note('get', await call('GET', `/vms/${id}`));
          note('list', await call('GET', `/vms?per_page=20&search=soak-${c}-`));
          note('delete', await call('DELETE', `/vms/${id}?force=true`));
          loops++;
        }
      }),
    );
    await warmed;
    clearInterval(sampler);
    await sleep(2_000);
    const after = await rssMb(server.child.pid!);
    latencies.sort((a, b) => a - b);
    console.log(
      `soak: ${CLIENTS} clients, ${SECONDS} s, ${loops} loops, ${latencies.length} requests; p50 ${p(latencies, 0.5).toFixed(0)} ms, p99 ${p(latencies, 0.99).toFixed(0)} ms; answers ${JSON.stringify([...statuses].sort())}; RSS idle ${idle.toFixed(0)} MB, under load ${warm.toFixed(0)} MB -> ${after.toFixed(0)} MB at the end (${(((after - warm) / warm) * 100).toFixed(0)}%; every 10 s: ${samples.join(', ')})`,
    );
    if (bad.length > 0)
      console.log(
        `server log, errors:\n${server
          .output()
          .split('\n')
          .filter((l) => /"level":(50|60)/.test(l))
          .slice(0, 20)
          .join('\n')}`,
      );
    expect(bad.slice(0, 20)).toEqual([]);
    expect(loops).toBeGreaterThan(CLIENTS);
    expect(after).toBeLessThan(warm * 1.2);
  });
});
