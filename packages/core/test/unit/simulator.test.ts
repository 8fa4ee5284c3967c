import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AuthenticationError,
  CallAbortedError,
  NoResourcesAvailableError,
  readSimulatorStore,
  SimulatedDriver,
  SimulatedHypervisor,
  SimulatorClient,
  type SimVmSpec,
  VmNotFoundError,
} from '../../src/index.js';

const spec = (name: string, over: Partial<SimVmSpec> = {}): SimVmSpec => ({
  name,
  cpu_cores: 1,
  memory_mb: 512,
  disk_gb: 10,
  os_type: 'linux',
  network: { type: 'nat', bridge_name: null, mac_address: null, ip_address: null },
  vnc_enabled: true,
  ...over,
});

const savedKey = process.env.HYPERVISOR_API_KEY;
afterEach(() => {
  if (savedKey === undefined) delete process.env.HYPERVISOR_API_KEY;
  else process.env.HYPERVISOR_API_KEY = savedKey;
});

describe('simulated hypervisor SimulatorClient', () => {
  it('takes its API key from the environment, like the original SDK', async () => {
    const hypervisor = new SimulatedHypervisor({ api_key: 'k-123' });
    process.env.HYPERVISOR_API_KEY = 'k-123';
    await expect(new SimulatorClient({ hypervisor }).authenticate()).resolves.toEqual({ authenticated: true });
    process.env.HYPERVISOR_API_KEY = 'wrong';
    const client = new SimulatorClient({ hypervisor });
    await expect(client.authenticate()).rejects.toBeInstanceOf(AuthenticationError);
    await expect(client.create_vm(spec('x'))).rejects.toBeInstanceOf(AuthenticationError);
    expect(hypervisor.domains.size).toBe(0);
  });

  it('creates, runs and deletes VMs with the original method names', async () => {
    const client = new SimulatorClient({ hypervisor: new SimulatedHypervisor() });
    const vm = await client.create_vm(spec('one'));
    expect(vm).toMatchObject({ name: 'one', state: 'shutoff', vnc_port: 5900 });
    expect(vm.mac_address).toMatch(/^52:54:00(:[0-9a-f]{2}){3}$/);
    const two = await client.createVm(spec('two'));
    expect(two.vnc_port).toBe(5901);
    await client.start_vm(vm.id);
    await client.startVm(vm.id); // idempotent
    expect((await client.get_vm(vm.id)).state).toBe('running');
    await client.pause_vm(vm.id);
    await client.resume_vm(vm.id);
    await client.reset_vm(vm.id);
    expect(await client.stop_vm(vm.id, { timeout_ms: 1000 })).toEqual({ forced: false });
    await client.reconfigure_vm(vm.id, { cpu_cores: 4, disk_gb: 20 });
    expect((await client.get_vm(vm.id)).disks).toEqual([{ name: 'disk0.qcow2', size_gb: 20 }]);
    await client.delete_vm(vm.id);
    await client.deleteVm(vm.id); // deleting what is gone succeeds
    await expect(client.get_vm(vm.id)).rejects.toBeInstanceOf(VmNotFoundError);
    expect((await client.list_vms()).map((v) => v.name)).toEqual(['two']);
  });

  it('forces off a guest that ignores ACPI at the deadline', async () => {
    const client = new SimulatorClient({ hypervisor: new SimulatedHypervisor() });
    const vm = await client.createVm(spec('stubborn'));
    await client.startVm(vm.id);
    client.hypervisor.setIgnoresAcpi(vm.id, true);
    const t0 = Date.now();
    expect(await client.stopVm(vm.id, { timeout_ms: 100 })).toEqual({ forced: true });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(95);
    expect((await client.getVm(vm.id)).state).toBe('shutoff');
  });

  it('refuses to start what does not fit, as NoResourcesAvailableError', async () => {
    const client = new SimulatorClient({
      hypervisor: new SimulatedHypervisor({ capacity: { cpus: 4, memory_mb: 1024, disk_gb: 100 } }),
    });
    const a = await client.createVm(spec('a', { memory_mb: 768 }));
    const b = await client.createVm(spec('b', { memory_mb: 512 }));
    await client.startVm(a.id);
    await expect(client.startVm(b.id)).rejects.toBeInstanceOf(NoResourcesAvailableError);
    await expect(client.createVm(spec('c', { disk_gb: 90 }))).rejects.toBeInstanceOf(NoResourcesAvailableError);
  });

  it('gives back the room of domains stopped, crashed, deleted while running or vanished, and counts disks grown', async () => {
    const hypervisor = new SimulatedHypervisor({ capacity: { cpus: 4, memory_mb: 1024, disk_gb: 40 } });
    const client = new SimulatorClient({ hypervisor });
    const [a, b, c] = [await client.createVm(spec('a')), await client.createVm(spec('b')), await client.createVm(spec('c'))];
    await client.startVm(a.id);
    await client.startVm(b.id);
    const refused = (p: Promise<unknown>) => expect(p).rejects.toBeInstanceOf(NoResourcesAvailableError);
    await refused(client.startVm(c.id)); // 1024 MB in use
    await refused(client.createVm(spec('d', { disk_gb: 20 }))); // 30 of 40 GB in use
    await client.killVm(a.id);
    await client.startVm(c.id); // a's memory given back
    hypervisor.crash(b.id);
    await client.startVm(a.id); // b's, by its crash
    await client.deleteVm(a.id); // running: its memory and disk go
    await client.startVm(b.id);
    await client.killVm(b.id);
    await client.reconfigureVm(b.id, { disk_gb: 25 }); // 10 + 25 of 40 GB
    await refused(client.createVm(spec('e', { disk_gb: 10 })));
    hypervisor.domains.delete(b.id); // gone behind the hypervisor's back
    const e = await client.createVm(spec('e', { disk_gb: 10, memory_mb: 512 }));
    await client.startVm(e.id); // with c: 1024 MB
    await refused(client.createVm(spec('f', { disk_gb: 21 })));
  });
  it('hangs a call until its caller gives up, and a kill frees a stuck call', async () => {
    const hypervisor = new SimulatedHypervisor();
    const client = new SimulatorClient({ hypervisor });
    const vm = await client.createVm(spec('hung'));
    hypervisor.inject({ method: 'start_vm', kind: 'hang' });
    await expect(client.startVm(vm.id, { signal: AbortSignal.timeout(50) })).rejects.toBeInstanceOf(CallAbortedError);
    hypervisor.inject({ method: 'start_vm', kind: 'hang', domain: vm.id });
    const stuck = client.startVm(vm.id);
    await new Promise((r) => setTimeout(r, 20));
    await client.killVm(vm.id);
    await expect(stuck).rejects.toBeInstanceOf(CallAbortedError);
  });

  it('adds the configured latency to each call', async () => {
    const client = new SimulatorClient({ hypervisor: new SimulatedHypervisor({ latency_ms: 40 }) });
    await client.authenticate();
    const t0 = Date.now();
    await client.listVms();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(35);
  });

  it('keeps its domains in a state directory, each change written before its call returns, so they outlive the process', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hangar-sim-'));
    try {
      const state_dir = join(dir, 'sim');
      const first = new SimulatedDriver({ config: { state_dir } });
      const d = await first.define({ ...spec('kept'), vm_id: '6c7e3b27-7159-4e0a-9e30-3d44284574cd' });
      const gone = await first.define({ ...spec('gone'), vm_id: '0b6e2c1c-1f4e-4d57-9b4a-7c3f5d8e2a11' });
      await first.start(d.ref);
      await first.undefine(gone.ref, { delete_disks: true });
      // Written when it changed (no flush at close needed): another process sees it at once.
      const second = new SimulatedDriver({ config: { state_dir } });
      expect(await second.list()).toEqual([{ ref: d.ref, vm_id: '6c7e3b27-7159-4e0a-9e30-3d44284574cd', state: 'running' }]);
      expect([...readSimulatorStore(state_dir).domains.keys()]).toEqual([d.ref]);
      await first.close();
      await second.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('skips a change cut short by a crash mid-write, and keeps every change across folds of its log', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hangar-sim-'));
    try {
      const state_dir = join(dir, 'sim');
      const h = new SimulatedHypervisor({ state_dir });
      const a = h.createDomain(spec('a'));
      h.startDomain(a.id);
      h.close();
      // A process killed mid-append: half a line at the end of the log.
      await writeFile(join(state_dir, 'domains.log'), '{"put":{"id":"half', { flag: 'a' });
      const again = new SimulatedHypervisor({ state_dir });
      expect([...again.domains.values()].map((d) => [d.spec.name, d.state])).toEqual([['a', 'running']]);
      // Enough changes (a console of 500 lines each) to fold the log into the snapshot many times.
      const made = Array.from({ length: 300 }, (_, i) => again.createDomain(spec(`m${i}`)));
      for (let round = 0; round < 60; round++) {
        for (const m of made) {
          again.startDomain(m.id);
          again.killDomain(m.id);
        }
      }
      for (const m of made.slice(0, 100)) again.deleteDomain(m.id);
      again.startDomain(made[150]!.id);
      const files = await readdir(state_dir);
      expect(files.sort()).toEqual(['domains.json', 'domains.log']);
      for (const f of files) expect((await stat(join(state_dir, f))).mode & 0o777).toBe(0o600);
      expect((await stat(state_dir)).mode & 0o777).toBe(0o700);
      const { domains, logBytes } = readSimulatorStore(state_dir);
      expect(logBytes).toBeLessThan(40 * 1024 * 1024);
      expect(domains.size).toBe(201);
      expect(domains.get(made[150]!.id)?.state).toBe('running');
      expect(domains.get(made[151]!.id)?.state).toBe('shutoff');
      expect(domains.has(made[99]!.id)).toBe(false);
      again.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('gives each domain the lowest free VNC port, takes back the ports of deleted domains and of VNC turned off, and keeps them across a restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hangar-sim-'));
    try {
      const state_dir = join(dir, 'sim');
      const h = new SimulatedHypervisor({ state_dir });
      const made = Array.from({ length: 1000 }, (_, i) => h.createDomain(spec(`d${i}`)));
      expect(made.map((d) => d.vnc_port)).toEqual(made.map((_, i) => 5900 + i));
      expect(h.createDomain(spec('no-vnc', { vnc_enabled: false })).vnc_port).toBeNull();
      h.deleteDomain(made[7]!.id);
      h.reconfigureDomain(made[3]!.id, { vnc_enabled: false });
      expect(h.createDomain(spec('takes-3')).vnc_port).toBe(5903);
      expect(h.createDomain(spec('takes-7')).vnc_port).toBe(5907);
      expect(h.reconfigureDomain(made[3]!.id, { vnc_enabled: true }).vnc_port).toBe(6900);
      // Another process over the same directory knows which ports its domains have.
      const again = new SimulatedHypervisor({ state_dir });
      again.deleteDomain(made[500]!.id);
      expect(again.createDomain(spec('after-restart')).vnc_port).toBe(6400);
      expect(again.createDomain(spec('then')).vnc_port).toBe(6901);
      const ports = [...again.domains.values()].map((d) => d.vnc_port).filter((p) => p !== null);
      expect(new Set(ports).size).toBe(ports.length);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('keeps the first change after a line torn by a crash: it starts a line of its own', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hangar-sim-'));
    try {
      const state_dir = join(dir, 'sim');
      const h = new SimulatedHypervisor({ state_dir });
      const a = h.createDomain(spec('a'));
      h.close();
      await writeFile(join(state_dir, 'domains.log'), '{"put":{"id":"half', { flag: 'a' });
      const again = new SimulatedHypervisor({ state_dir });
      // Written before the call returned, and changed no more.
      const b = again.createDomain(spec('b'));
      again.close();
      const third = new SimulatedHypervisor({ state_dir });
      expect([...third.domains.keys()].sort()).toEqual([a.id, b.id].sort());
      third.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('never cuts a line off its log at load: another writer may be in the middle of it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hangar-sim-'));
    try {
      const state_dir = join(dir, 'sim');
      const writer = new SimulatedHypervisor({ state_dir });
      const d = writer.createDomain(spec('half-written'));
      writer.close();
      const line = JSON.stringify({ put: { ...d, state: 'running' } });
      // The writer has written half its next line when another hypervisor loads the directory.
      await writeFile(join(state_dir, 'domains.log'), line.slice(0, 40), { flag: 'a' });
      const reader = new SimulatedHypervisor({ state_dir });
      expect(reader.domains.get(d.id)?.state).toBe('shutoff');
      await writeFile(join(state_dir, 'domains.log'), `${line.slice(40)}\n`, { flag: 'a' });
      expect(readSimulatorStore(state_dir).domains.get(d.id)?.state).toBe('running');
      reader.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('folds what the directory holds: another hypervisor’s changes over the same directory are kept', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hangar-sim-'));
    try {
      const state_dir = join(dir, 'sim');
      const one = new SimulatedHypervisor({ state_dir });
      const two = new SimulatedHypervisor({ state_dir });
      const fromOne = one.createDomain(spec('from-one'));
      // Enough changes from the other to fold its log (more than 8 MiB).
      const m = two.createDomain(spec('m'));
      for (let i = 0; i < 6000; i++) {
        two.startDomain(m.id);
        two.killDomain(m.id);
      }
      expect(await readdir(state_dir)).toContain('domains.json');
      one.close();
      two.close();
      expect([...readSimulatorStore(state_dir).domains.keys()].sort()).toEqual([fromOne.id, m.id].sort());
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('takes in the domains of the layouts before its log (one file of all, then a file each), and removes those files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hangar-sim-'));
    try {
      const state_dir = join(dir, 'sim');
      const first = new SimulatedDriver({ config: { state_dir } });
      const a = await first.define({ ...spec('old'), vm_id: '5d1f0e3a-8c2b-4e6f-a7d9-2b4c6e8f0a13' });
      const b = await first.define({ ...spec('older'), vm_id: '7a2e4c6b-1d3f-4a5b-8c9d-0e1f2a3b4c5d' });
      await first.start(a.ref);
      await first.close();
      const { domains } = readSimulatorStore(state_dir);
      await rm(state_dir, { recursive: true });
      await mkdir(state_dir);
      await writeFile(join(state_dir, `${a.ref}.json`), JSON.stringify(domains.get(a.ref)));
      await writeFile(`${state_dir}.json`, JSON.stringify([domains.get(b.ref)]));
      const second = new SimulatedDriver({ config: { state_dir } });
      expect((await second.list()).sort((x, y) => x.vm_id!.localeCompare(y.vm_id!))).toEqual([
        { ref: a.ref, vm_id: '5d1f0e3a-8c2b-4e6f-a7d9-2b4c6e8f0a13', state: 'running' },
        { ref: b.ref, vm_id: '7a2e4c6b-1d3f-4a5b-8c9d-0e1f2a3b4c5d', state: 'stopped' },
      ]);
      expect((await readdir(state_dir)).sort()).toEqual(['domains.json', 'domains.log']);
      await expect(readFile(`${state_dir}.json`)).rejects.toThrow(/ENOENT/);
      await second.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reports driver errors by kind', async () => {
    const driver = new SimulatedDriver();
    await expect(driver.start('nope')).rejects.toMatchObject({ name: 'DriverError', kind: 'not_found' });
    expect(await driver.state('nope')).toBe('missing');
    driver.hypervisor.inject({ method: 'inventory', kind: 'fail' });
    await expect(driver.inventory()).rejects.toMatchObject({ kind: 'no_resources' });
  });
});
