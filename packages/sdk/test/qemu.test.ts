import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { type Database, type DirectBoot, QemuImg, sha256File } from '@hangar/core';
import {
  archiveManifest,
  createTestDatabase,
  makeTar,
  qemuProcessesUnder,
  qemuSkipReason,
  testGuest,
  waitForText,
} from '@hangar/core/testing';
import { type QemuTestServer, startQemuTestServer } from '@hangar/server/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
    if (!dataDir) return;
    try {
      if (!server && database) server = await startQemuTestServer({ database, dataDir, boot });
      if (server) {
        for (const d of await server.driver.list()) await server.driver.kill(d.ref);
        await server.close();
      }
    } finally {
      await database?.close();
      // Should the driver fail to stop them, they are killed all the same (and the test fails).
      const left = await qemuProcessesUnder(dataDir);
      for (const pid of left) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // exited meanwhile
        }
      }
      await rm(dataDir, { recursive: true, force: true });
      expect(left).toEqual([]);
    }
  }, 60_000);

  const start = async () => {
    // A test that failed midway leaves its server up: two servers on one data directory would
    // fight over the VMs' QMP sockets and fail the next tests too.
    await server?.close();
    return startQemuTestServer({ database, dataDir, boot });
  };
  const clientOf = (s: QemuTestServer) => new Client({ base_url: s.url, api_key: s.apiKey });
  const consoleOf = (id: string) => `${dataDir}/vms/${id}/console.log`;

  it('runs the whole lifecycle', async () => {
    server = await start();
    const client = clientOf(server);
    const qmp = async (id: string) => (await server!.driver.qmp<{ status: string }>(id, 'query-status')).status;

    const { vm } = await client.createVm({ name: 'sdk-lifecycle', ...small }, { wait: true });
    expect(vm.status).toBe('stopped');
    expect(vm).toMatchObject({ vnc_enabled: true, vnc_port: null });
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

    // Restart, graceful then forced: each time a new QEMU, and the guest boots again.
    const pids = [(await server.driver.pid(vm.id))!];
    const restarted = await client.restartVm(vm.id, { wait: true, timeout_s: 30 });
    expect(restarted.vm.status).toBe('running');
    expect(restarted.operation).toMatchObject({ action: 'restart', status: 'succeeded' });
    await waitForText(consoleOf(vm.id), 'power button, powering off', { count: 2 });
    await waitForText(consoleOf(vm.id), UP, { count: 4 });
    pids.push((await server.driver.pid(vm.id))!);
    expect((await client.restartVm(vm.id, { wait: true, force: true })).vm.status).toBe('running');
    await waitForText(consoleOf(vm.id), UP, { count: 5 });
    // Forced: the guest never saw the power button this time.
    expect((await readFile(consoleOf(vm.id), 'utf8')).split('power button, powering off').length - 1).toBe(2);
    pids.push((await server.driver.pid(vm.id))!);
    expect(new Set(pids).size).toBe(3);
    expect(await qmp(vm.id)).toBe('running');
    expect(await qemuProcessesUnder(`${dataDir}/vms/${vm.id}`)).toEqual([pids[2]]);

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

  it('refuses qcow2 disks that name another host file (backing or external data file), uploaded or imported, leaving nothing', async () => {
    server ??= await start();
    const client = clientOf(server);
    // qemu-img makes them as an attacker would: each names a file of the server's host.
    const work = await mkdtemp('/tmp/hq-qcow2-');
    try {
      const img = (...args: string[]) => execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', ...args], { cwd: work });
      img('plain.qcow2', '1M');
      img('-b', `${work}/plain.qcow2`, '-F', 'qcow2', 'backed.qcow2');
      img('-o', `data_file=${work}/data.raw`, 'external.qcow2', '1M');
      const archiveOf = async (file: string) => {
        const body = await readFile(`${work}/${file}`);
        const sha256 = createHash('sha256').update(body).digest('hex');
        const manifest = archiveManifest([{ name: 'disk0.qcow2', format: 'qcow2', size: body.length, sha256 }]);
        const tar = `${work}/${file}.tar`;
        await writeFile(
          tar,
          await makeTar([
            { header: { name: 'manifest.json' }, body: manifest },
            { header: { name: 'disks/disk0.qcow2' }, body },
          ]),
        );
        return tar;
      };
      const leftovers = async () => ({
        rows: (await database.sql`SELECT (SELECT count(*)::int FROM images) AS images, (SELECT count(*)::int FROM vms) AS vms`)[0],
        images: await readdir(`${dataDir}/images`, { recursive: true }),
        imports: await readdir(`${dataDir}/imports`),
        vms: await readdir(`${dataDir}/vms`),
      });
      const before = await leftovers();

      for (const [file, why] of [
        ['backed.qcow2', /backing file/],
        ['external.qcow2', /external data file/],
      ] as const) {
        await expect(client.uploadImage(`${work}/${file}`, { name: file, kind: 'disk' }), file).rejects.toMatchObject({
          status: 400,
          code: 'VALIDATION',
          message: expect.stringMatching(why),
        });
        await expect(client.importVm(await archiveOf(file), { name: `never-${file.split('.')[0]}` }), file).rejects.toMatchObject({
          status: 400,
          code: 'INVALID_ARCHIVE',
          message: expect.stringMatching(why),
        });
        expect(await leftovers(), file).toEqual(before);
      }

      // The same disk naming no other file is taken, both ways: the refusals are about the flaw.
      const image = await client.uploadImage(`${work}/plain.qcow2`, { name: 'plain.qcow2', kind: 'disk' });
      expect(image).toMatchObject({ status: 'ready', format: 'qcow2' });
      const vm = await client.importVm(await archiveOf('plain.qcow2'), { name: 'plain-import' });
      expect(vm.status).toBe('stopped');
      await client.deleteVm(vm.id, { wait: true });
      await client.deleteImage(image.id);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }, 60_000);
});
