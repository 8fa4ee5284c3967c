import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { simGpus } from '@hangar/core';
import { startTestServer, type TestServer } from '@hangar/server/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSX = createRequire(import.meta.url).resolve('tsx/cli');

let server: TestServer;
beforeAll(async () => {
  // Hypervisor calls take a moment, as on a real host, so the concurrency example meets an operation in flight.
  // Simulated disks of 1 MiB per "GB" keep the export example quick.
  // Two simulated A100s, on NUMA nodes 0 and 1, for the GPU example.
  server = await startTestServer({ simulator: { latency_ms: 150, gpus: simGpus('10de:20b0,10de:20b0@1') }, sim_bytes_per_gb: 2 ** 20 });
});
afterAll(() => server?.stop());

/** `pnpm example <name>`, as a user runs it, against a live server. */
async function example(name: string, against: TestServer = server): Promise<string> {
  const { stdout } = await run(process.execPath, [TSX, 'examples/run.ts', name], {
    cwd: ROOT,
    env: { ...process.env, HANGAR_URL: against.url, HANGAR_API_KEY: against.apiKey },
  });
  return stdout;
}

describe('examples', () => {
  it('quickstart', async () => {
    const out = await example('quickstart');
    expect(out).toMatch(/Signed in as admin/);
    expect(out).toMatch(/is running; VNC on port \d+/);
    expect(out).toMatch(/Stopped: stopped/);
    expect(out).toMatch(/Deleted: deleted at \d{4}-/);
  });

  it('list-and-filter', async () => {
    const out = await example('list-and-filter');
    expect(out).toMatch(/Page 1 of 2: .* \(3 in all\)/);
    expect(out).toMatch(/role=web: web-\S+, web-\S+\n/);
    expect(out).toMatch(/running: web-/);
    expect(out).toMatch(/walked 3 VMs/);
  });

  it('gpus', async () => {
    const out = await example('gpus');
    expect(out).toMatch(/local 0000:10:00\.0 GA100 \[A100 SXM4 40GB\] NUMA 0 free\n/);
    expect(out).toMatch(/train-\S+ is running, holding GA100 \[A100 SXM4 40GB\] at 0000:1[01]:00\.0\n/);
    expect(out).toMatch(/8 A100s: INSUFFICIENT_CAPACITY \(503\)/);
    expect(out).toMatch(/VMs with an A100: train-\S+\n/);
    expect(out).toMatch(/stopped with release_gpus: asks for 1, holds 0\n/);
    expect(out).toMatch(/started again, holding 1\n/);
  });

  it('gpus, against a fleet with no GPU: one line that says what to run, and exit 1', async () => {
    const bare = await startTestServer();
    try {
      const err = await example('gpus', bare).then(
        () => null,
        (e: unknown) => e as { code: number; stderr: string },
      );
      expect(err?.code).toBe(1);
      expect(err?.stderr.trim()).toBe(
        'This example needs a free A100. Against `pnpm start`, give the simulated host two: HANGAR_SIM_GPUS=10de:20b0,10de:20b0@1 pnpm start',
      );
    } finally {
      await bare.stop();
    }
  });

  it('trpc-direct', async () => {
    const out = await example('trpc-direct');
    expect(out).toMatch(/operations.wait -> succeeded/);
    expect(out).toMatch(/vms.start \(wait\) -> running/);
    expect(out).toMatch(/vms.delete -> deleted/);
  });

  it('concurrency', async () => {
    const out = await example('concurrency');
    expect(out).toMatch(/OPERATION_IN_PROGRESS \(409\) while starting/);
    expect(out).toMatch(/both starts share one operation: true/);
    expect(out).toMatch(/idempotent replay returns the same answer: true/);
    // The replay named the first call's VM and operation, and the server holds one VM of that name.
    const m = /first: VM (\S+), operation (\S+); replay: VM (\S+), operation (\S+); VMs named (\S+): 1\n/.exec(out);
    expect(m, out).not.toBeNull();
    const [, vmId, opId, replayVmId, replayOpId, name] = m!;
    expect([replayVmId, replayOpId]).toEqual([vmId, opId]);
    const auth = { headers: { authorization: `Bearer ${server.apiKey}` } };
    const named = (await (await fetch(`${server.url}/api/v1/vms?search=${name}&include_deleted=true`, auth)).json()) as {
      total: number;
      vms: { id: string }[];
    };
    expect(named.vms.map((v) => v.id)).toEqual([vmId]);
    const ops = (await (await fetch(`${server.url}/api/v1/operations?vm_id=${vmId}`, auth)).json()) as {
      operations: { id: string; action: string }[];
    };
    expect(ops.operations.filter((o) => o.action === 'create').map((o) => o.id)).toEqual([opId]);
  });

  it('export-import', async () => {
    const out = await example('export-import');
    expect(out).toMatch(/Exported export-\S+ to .*\.tar\.gz: \d+ bytes/);
    expect(out).toMatch(/Imported import-\S+: stopped, 1 vCPU, 1024 MB, 1 GB, labels \{"example":"export-import"\}/);
    expect(out).toMatch(/Deleted both/);
  });

  it('names the examples when given none', async () => {
    const err = await run(process.execPath, [TSX, 'examples/run.ts'], { cwd: ROOT }).catch((e: { stderr: string; code: number }) => e);
    expect((err as { code: number }).code).toBe(2);
    expect((err as { stderr: string }).stderr).toMatch(/quickstart/);
  });
});
