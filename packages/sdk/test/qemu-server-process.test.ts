import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Database, DirectBoot } from '@hangar/core';
import { createTestDatabase, qemuProcessesUnder, qemuSkipReason, testGuest, waitForText } from '@hangar/core/testing';
import { TEST_ADMIN_KEY } from '@hangar/server/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';

// The server restart of qemu.test.ts closes and reopens a server inside the test's process.
// Here `hangar serve` is a process of its own, and it dies as a process does: SIGKILL sent to
// its whole process group (what a terminal's or a supervisor's kill reaches). The VMs' QEMUs
// must outlive it, and the next server must take them over: drive them, and hear their events.

const skip = qemuSkipReason();
const small = { cpu_cores: 1, memory_mb: 256, disk_gb: 1 };
const UP = 'hangar-test-guest: up';
const BIN = fileURLToPath(new URL('../../server/bin/hangar.mjs', import.meta.url));

interface ServerProcess {
  child: ChildProcess;
  url: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output: () => string;
}

describe.skipIf(skip !== null)('`hangar serve` killed with SIGKILL, and started again, with QEMU VMs (TCG)', () => {
  let dataDir: string;
  let database: Database;
  let boot: DirectBoot;
  const servers: ServerProcess[] = [];

  beforeAll(async () => {
    boot = testGuest();
    // Short: QEMU's unix socket paths must fit in 107 bytes.
    dataDir = await mkdtemp('/tmp/hq-proc-');
    database = await createTestDatabase();
  }, 120_000);

  afterAll(async () => {
    for (const s of servers) await killGroup(s);
    // Whatever a failed test left running dies here, and none may survive.
    for (const pid of dataDir ? await qemuProcessesUnder(dataDir) : []) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // exited meanwhile
      }
    }
    for (let i = 0; i < 50 && dataDir && (await qemuProcessesUnder(dataDir)).length > 0; i++) await sleep(100);
    await database?.close();
    if (dataDir) {
      expect(await qemuProcessesUnder(dataDir)).toEqual([]);
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 60_000);

  /** `hangar serve` as its own process, leading its own process group. */
  async function serve(): Promise<ServerProcess> {
    const child = spawn(process.execPath, [BIN, 'serve'], {
      env: {
        ...process.env,
        HOST: '127.0.0.1',
        PORT: '0',
        DATABASE_URL: database.url,
        HANGAR_DATA_DIR: dataDir,
        HANGAR_BOOTSTRAP_API_KEY: TEST_ADMIN_KEY,
        HANGAR_DRIVER: 'qemu',
        HANGAR_QEMU_ACCEL: 'tcg',
        HANGAR_QEMU_KERNEL: boot.kernel,
        HANGAR_QEMU_INITRD: boot.initrd ?? '',
        HANGAR_QEMU_APPEND: boot.append ?? '',
        LOG_LEVEL: 'warn',
      },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    let output = '';
    const server: ServerProcess = { child, url: '', exited, output: () => output };
    servers.push(server);
    server.url = await new Promise<string>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        const m = /Hangar is serving on (http:\/\/\S+)/.exec(output);
        if (m) resolve(m[1]!);
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      void exited.then(({ code, signal }) => reject(new Error(`hangar serve exited (${signal ?? code}) before serving:\n${output}`)));
    });
    return server;
  }

  async function killGroup(s: ServerProcess): Promise<void> {
    if (s.child.exitCode !== null || s.child.signalCode !== null) return;
    try {
      process.kill(-s.child.pid!, 'SIGKILL');
    } catch {
      // gone already
    }
    await s.exited;
  }

  /** Types a line into the guest's shell on its serial console; the caller closes the connection. */
  async function typeOnSerial(id: string, line: string): Promise<Socket> {
    const serial = connect(`${dataDir}/vms/${id}/serial.sock`);
    await new Promise((res, rej) => serial.once('connect', res).once('error', rej));
    await new Promise<void>((res) => serial.write(`\n${line}\n`, () => res()));
    return serial;
  }

  const consoleOf = (id: string) => `${dataDir}/vms/${id}/console.log`;

  it('keeps the VMs running, and the new server drives them and hears a guest power off at once', async () => {
    const first = await serve();
    let client = new Client({ base_url: first.url, api_key: TEST_ADMIN_KEY });
    const [{ vm: a }, { vm: b }] = await Promise.all([
      client.createVm({ name: 'proc-a', start: true, ...small }, { wait: true }),
      client.createVm({ name: 'proc-b', start: true, ...small }, { wait: true }),
    ]);
    expect([a.status, b.status]).toEqual(['running', 'running']);
    await Promise.all([waitForText(consoleOf(a.id), UP), waitForText(consoleOf(b.id), UP)]);
    const pidA = await qemuProcessesUnder(`${dataDir}/vms/${a.id}`);
    const pidB = await qemuProcessesUnder(`${dataDir}/vms/${b.id}`);
    expect(pidA).toHaveLength(1);
    expect(pidB).toHaveLength(1);

    // The server dies at once, with everything in its process group.
    process.kill(-first.child.pid!, 'SIGKILL');
    expect(await first.exited).toMatchObject({ signal: 'SIGKILL' });
    await sleep(200);
    // The VMs outlive it: their QEMUs are in sessions of their own.
    expect(await qemuProcessesUnder(`${dataDir}/vms/${a.id}`)).toEqual(pidA);
    expect(await qemuProcessesUnder(`${dataDir}/vms/${b.id}`)).toEqual(pidB);

    const second = await serve();
    client = new Client({ base_url: second.url, api_key: TEST_ADMIN_KEY });
    expect(await client.getVm(a.id)).toMatchObject({ status: 'running' });
    expect(await client.getVm(b.id)).toMatchObject({ status: 'running' });

    // Re-adopted: the new server pauses the VM it did not start. A paused guest does not run
    // what is typed to it; once resumed it does (6*7 is computed, so the echo of the typed
    // line does not count).
    expect((await client.pauseVm(a.id, { wait: true })).vm.status).toBe('paused');
    const serialA = await typeOnSerial(a.id, 'echo "answer=$((6*7))"');
    await sleep(1_000);
    expect(await readFile(consoleOf(a.id), 'utf8')).not.toContain('answer=42');
    expect((await client.resumeVm(a.id, { wait: true })).vm.status).toBe('running');
    await waitForText(consoleOf(a.id), 'answer=42', { timeout_ms: 10_000 });
    serialA.destroy();
    expect(await qemuProcessesUnder(`${dataDir}/vms/${a.id}`)).toEqual(pidA);

    // Re-adopted VMs keep their event watch: a guest that powers itself off is seen stopped
    // at once, from its QMP events, not by the reconciler's periodic pass (every 5 s).
    const serialB = await typeOnSerial(b.id, 'poweroff -f');
    const t0 = Date.now();
    const stopped = await client.waitForVm(b.id, 'stopped', { timeout_ms: 15_000 });
    const latency = Date.now() - t0;
    serialB.destroy();
    process.stdout.write(`[hangar] guest power-off to VM stopped, after re-adoption by a new server process: ${latency} ms\n`);
    expect(stopped.status).toBe('stopped');
    expect(latency).toBeLessThan(3_000);
    const drift = (await client.listEvents(b.id)).filter((e) => e.type === 'vm.drift').at(-1);
    expect(drift).toMatchObject({ from_status: 'running', to_status: 'stopped' });
    expect(drift!.message).toContain('the guest powered off');
    expect(await qemuProcessesUnder(`${dataDir}/vms/${b.id}`)).toEqual([]);

    await client.deleteVm(a.id, { wait: true });
    await client.deleteVm(b.id, { wait: true });
    expect(await qemuProcessesUnder(dataDir)).toEqual([]);
    await killGroup(second);
  }, 60_000);
});

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
