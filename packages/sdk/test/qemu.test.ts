import { mkdtemp, rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QemuImg, sha256File, type Database, type DirectBoot } from '@hangar/core';
import { createTestDatabase, qemuProcessesUnder, qemuSkipReason, testGuest, waitForText } from '@hangar/core/testing';
import { startQemuTestServer, type QemuTestServer } from '@hangar/server/testing';
import { Client } from '../src/index.js';

const skip = qemuSkipReason();
const small = { cpu_cores: 1, memory_mb: 256, disk_gb: 1 };
const UP = 'hangar-test-guest: up';

describe.skipIf(skip !== null)('SDK against a server running QEMU VMs (TCG)', () => {
  let dataDir: string;
  let database: Database;
  let boot: DirectBoot;
  let server: QemuTestServer | undefined;

  beforeAll(async () => {
    boot = testGuest();
    dataDir = await mkdtemp('/tmp/hq-sdk-');
    database = await createTestDatabase();
  }, 120_000);

  afterAll(async () => {
    // Whatever a failed test left running is stopped here, and none may survive.
    if (!server && database) server = await startQemuTestServer({ database, dataDir, boot, env: { HANGAR_VNC_BASE_PORT: '5930' } });
    if (server) {
      for (const d of await server.driver.list()) await server.driver.kill(d.ref);
      await server.close();
    }
    await database?.close();
    expect(await qemuProcessesUnder(dataDir)).toEqual([]);
    await rm(dataDir, { recursive: true, force: true });
  }, 60_000);

  const start = () => startQemuTestServer({ database, dataDir, boot, env: { HANGAR_VNC_BASE_PORT: '5930' } });
  const clientOf = (s: QemuTestServer) => new Client({ base_url: s.url, api_key: s.apiKey });
  const consoleOf = (id: string) => `${dataDir}/vms/${id}/console.log`;

  it('runs the whole lifecycle', async () => {
    server = await start();
    const client = clientOf(server);
    const qmp = async (id: string) => (await server!.driver.qmp<{ status: string }>(id, 'query-status')).status;

    const { vm } = await client.createVm({ name: 'sdk-lifecycle', ...small }, { wait: true });
    expect(vm.status).toBe('stopped');
    expect(vm.vnc_port).toBeGreaterThanOrEqual(5930);
    expect((await client.startVm(vm.id, { wait: true })).vm.status).toBe('running');
    expect(await qmp(vm.id)).toBe('running');
    await waitForText(consoleOf(vm.id), UP);

    expect((await client.pauseVm(vm.id, { wait: true })).vm.status).toBe('paused');
    expect(await qmp(vm.id)).toBe('paused');
    expect((await client.resumeVm(vm.id, { wait: true })).vm.status).toBe('running');
    expect(await qmp(vm.id)).toBe('running');

    expect((await client.stopVm(vm.id, { wait: true, timeout_s: 30 })).vm.status).toBe('stopped');
    await waitForText(consoleOf(vm.id), 'power button, powering off');
    expect(await server.driver.pid(vm.id)).toBeNull();

    await client.startVm(vm.id, { wait: true });
    await waitForText(consoleOf(vm.id), UP, { count: 2 });
    await client.resetVm(vm.id, { wait: true });
    await waitForText(consoleOf(vm.id), UP, { count: 3 });
    expect((await client.forceStopVm(vm.id, { wait: true })).vm.status).toBe('stopped');
    expect(await qemuProcessesUnder(`${dataDir}/vms/${vm.id}`)).toEqual([]);

    expect((await client.resizeVm(vm.id, { disk_gb: 2, memory_mb: 384 }, { wait: true })).vm).toMatchObject({ disk_gb: 2, memory_mb: 384 });
    expect((await new QemuImg().info(`${dataDir}/vms/${vm.id}/disk0.qcow2`)).virtual_size).toBe(2 * 2 ** 30);
    // The new memory size is what QEMU runs with.
    await client.startVm(vm.id, { wait: true });
    const mem = await server.driver.qmp<{ 'base-memory': number }>(vm.id, 'query-memory-size-summary');
    expect(mem['base-memory']).toBe(384 * 2 ** 20);

    expect((await client.deleteVm(vm.id, { wait: true, delete_disks: true })).vm.status).toBe('deleted');
    expect(await qemuProcessesUnder(dataDir)).toEqual([]);
    await server.close();
    server = undefined;
  }, 180_000);

  it('keeps VMs running across a server restart, and reports one that died meanwhile', async () => {
    server = await start();
    let client = clientOf(server);
    const { vm: keeper } = await client.createVm({ name: 'keeper', start: true, ...small }, { wait: true });
    const { vm: victim } = await client.createVm({ name: 'victim', start: true, ...small }, { wait: true });
    const keeperPid = (await server.driver.pid(keeper.id))!;
    const victimPid = (await server.driver.pid(victim.id))!;
    await server.close();

    // Both VMs outlive the control plane; one dies while nobody watches.
    expect(await qemuProcessesUnder(`${dataDir}/vms/${keeper.id}`)).toEqual([keeperPid]);
    process.kill(victimPid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 200));

    server = await start();
    client = clientOf(server);
    expect(await client.getVm(keeper.id)).toMatchObject({ status: 'running' });
    expect(await server.driver.pid(keeper.id)).toBe(keeperPid);
    // Re-adopted: the new server drives the VM it did not start.
    expect((await client.pauseVm(keeper.id, { wait: true })).vm.status).toBe('paused');
    expect((await server.driver.qmp<{ status: string }>(keeper.id, 'query-status')).status).toBe('paused');
    await client.resumeVm(keeper.id, { wait: true });

    const seen = await client.waitForVm(victim.id, 'stopped', { timeout_ms: 10_000 });
    expect(seen.status).toBe('stopped');
    const events = await client.listEvents(victim.id);
    const drift = events.find((e) => e.type === 'vm.drift');
    expect(drift?.message).toContain(`the QEMU process (pid ${victimPid}) exited while Hangar was not running`);

    await client.deleteVm(keeper.id, { wait: true });
    await client.deleteVm(victim.id, { wait: true });
    expect(await qemuProcessesUnder(dataDir)).toEqual([]);
  }, 180_000);

  it('exports a VM and imports it: identical disk, and the copy boots', async () => {
    server ??= await start();
    const client = clientOf(server);
    const { vm } = await client.createVm({ name: 'to-export', ...small }, { wait: true });
    const file = `${dataDir}/to-export.tar.gz`;
    await client.exportVm(vm.id, { path: file, compress: 'gzip' });
    const copy = await client.importVm(file, { name: 'imported' });
    expect(copy.status).toBe('stopped');
    const sha = async (id: string) => sha256File(`${dataDir}/vms/${id}/disk0.qcow2`);
    expect(await sha(copy.id)).toBe(await sha(vm.id));
    await client.startVm(copy.id, { wait: true });
    await waitForText(consoleOf(copy.id), UP);
    await client.deleteVm(copy.id, { wait: true });
    await client.deleteVm(vm.id, { wait: true });
  }, 120_000);
});
