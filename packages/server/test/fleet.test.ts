import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Database } from '@hangar/core';
import { createTestDatabase } from '@hangar/core/testing';
import { qemuProcessesUnder, qemuSkipReason, testGuest, waitForText } from '@hangar/core/testing/qemu';
import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppRouter } from '../src/router.js';
import { TEST_ADMIN_KEY } from '../src/testing.js';
import { type FleetProcess, runCommand, startAgentProcess, startApiProcess } from './fleet-processes.js';

/**
 * A fleet as an operator runs one, every part its own process: one PostgreSQL, two API
 * processes (API-only mode) sharing it and an image directory, and three agents with the
 * simulated driver, each with its own data directory and capacity, talking to the APIs only.
 */

let database: Database;
let root: string;
const apis: (FleetProcess & { url: string })[] = [];
const agents = new Map<string, FleetProcess & { host_id: string }>();
let token: string;

/** CPUs, memory (MB), disk (GB) and labels of each host. */
const HOSTS = {
  'node-a': { capacity: '4,8192,100', labels: 'zone=a' },
  'node-b': { capacity: '8,16384,200', labels: 'zone=b,disk=ssd' },
  'node-c': { capacity: '2,4096,50', labels: 'zone=a' },
} as const;
type HostName = keyof typeof HOSTS;

/**
 * An admin's calls to one API process, as the SDK makes them (the SDK's own package depends on
 * this one, so the calls are spelled out over tRPC here).
 */
function admin(url: string) {
  const c = createTRPCClient<AppRouter>({
    links: [httpLink({ url: `${url}/trpc`, headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } })],
  });
  type Spec = Parameters<typeof c.vms.create.mutate>[0];
  const wait = (o?: { wait?: boolean }) => ({ wait: o?.wait ?? false });
  return {
    listHosts: () => c.hosts.list.query(),
    getHost: (id: string) => c.hosts.get.query({ id }),
    cordonHost: (id: string) => c.hosts.cordon.mutate({ id }),
    uncordonHost: (id: string) => c.hosts.uncordon.mutate({ id }),
    drainHost: (id: string) => c.hosts.drain.mutate({ id }),
    removeHost: (id: string) => c.hosts.remove.mutate({ id }),
    createJoinToken: (input: { description?: string }) => c.join_tokens.create.mutate(input),
    createVm: (spec: Spec, o?: { wait?: boolean }) => c.vms.create.mutate({ ...spec, ...wait(o) }),
    getVm: (id: string) => c.vms.get.query({ id }),
    startVm: (id: string, o?: { wait?: boolean }) => c.vms.start.mutate({ id, ...wait(o) }),
    stopVm: (id: string, o?: { wait?: boolean }) => c.vms.stop.mutate({ id, ...wait(o) }),
    forceStopVm: (id: string) => c.vms.force_stop.mutate({ id }),
    pauseVm: (id: string, o?: { wait?: boolean }) => c.vms.pause.mutate({ id, ...wait(o) }),
    resumeVm: (id: string, o?: { wait?: boolean }) => c.vms.resume.mutate({ id, ...wait(o) }),
    deleteVm: (id: string, o?: { wait?: boolean }) => c.vms.delete.mutate({ id, ...wait(o) }),
    waitForVm: (id: string, status: 'stopped') => c.vms.wait.query({ id, status, timeout_ms: 30_000 }),
    waitForOperation: async (id: string) => (await c.operations.wait.query({ id, timeout_ms: 30_000 })).operation,
  };
}

/** What the API answered a refused call with: its HTTP status and error code. */
function refusal(err: unknown): { status: number | undefined; code: string | undefined; message: string } {
  if (!(err instanceof TRPCClientError)) throw err;
  const data = err.data as { httpStatus?: number; code?: string } | undefined;
  return { status: data?.httpStatus, code: data?.code, message: err.message };
}

function agentEnv(name: HostName): Record<string, string> {
  return {
    HANGAR_API_URL: apis.map((a) => a.url).join(','),
    HANGAR_JOIN_TOKEN: token,
    HANGAR_HOST_NAME: name,
    HANGAR_HOST_LABELS: HOSTS[name].labels,
    HANGAR_DRIVER: 'simulated',
    HANGAR_SIM_CAPACITY: HOSTS[name].capacity,
    HANGAR_SIM_LATENCY_MS: '5',
    HANGAR_DATA_DIR: join(root, name),
    HANGAR_AGENT_REPORT_INTERVAL_S: '0.5',
    // Simulated disks of 64 KiB per GB: exports through two hops stay quick.
    HANGAR_SIM_BYTES_PER_GB: '65536',
  };
}

async function startAgent(name: HostName) {
  const agent = await startAgentProcess(agentEnv(name));
  agents.set(name, agent);
  return agent;
}

/** How many domain changes agents have reported, to both API processes together (their metrics). */
async function domainChangesHeard(): Promise<number> {
  let n = 0;
  for (const api of apis) {
    const res = await fetch(`${api.url}/metrics`, { headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } });
    expect(res.status).toBe(200);
    for (const line of (await res.text()).split('\n')) {
      if (line.startsWith('hangar_http_request_duration_seconds_count{') && line.includes('procedure="agent.domain_changed"')) {
        n += Number(line.slice(line.lastIndexOf(' ') + 1));
      }
    }
  }
  return n;
}

/** Polls until `check` holds (for what happens by time: heartbeats missed, reports arriving). */
async function eventually<T>(what: string, read: () => Promise<T>, check: (v: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < end) {
    last = await read();
    if (check(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what}: still ${JSON.stringify(last)} after ${timeoutMs} ms`);
}

beforeAll(async () => {
  database = await createTestDatabase();
  root = await mkdtemp(join(tmpdir(), 'hangar-fleet-'));
  const shared = {
    DATABASE_URL: database.url,
    HANGAR_BOOTSTRAP_API_KEY: TEST_ADMIN_KEY,
    HANGAR_ADMIN_PASSWORD: 'not used in this test',
    HANGAR_IMAGE_DIR: join(root, 'images'),
    HANGAR_HEARTBEAT_TIMEOUT_S: '2',
    HANGAR_RECONCILE_INTERVAL_S: '0.5',
  };
  // One after the other: the first applies the migrations and makes the admin.
  apis.push(await startApiProcess({ ...shared, HANGAR_DATA_DIR: join(root, 'api-1') }));
  apis.push(await startApiProcess({ ...shared, HANGAR_DATA_DIR: join(root, 'api-2') }));
  // As an operator makes one: the command, against the fleet's database.
  token = (await runCommand(['admin', 'create-join-token', '--description', 'fleet test'], { DATABASE_URL: database.url })).trim();
  expect(token).toMatch(/^hgj_/);
  await Promise.all((Object.keys(HOSTS) as HostName[]).map(startAgent));
}, 120_000);

afterAll(async () => {
  await Promise.all([...agents.values()].map((a) => a.stop()));
  await Promise.all(apis.map((a) => a.stop()));
  await database?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

describe('a fleet of agents behind two API processes', () => {
  it('lists each agent’s host with its capacity, labels, version and a fresh heartbeat; credentials are private', async () => {
    const hosts = await admin(apis[1]!.url).listHosts();
    expect(hosts.map((h) => h.name).sort()).toEqual(['node-a', 'node-b', 'node-c']);
    const b = hosts.find((h) => h.name === 'node-b')!;
    expect(b).toMatchObject({
      status: 'online',
      driver: 'simulated',
      capacity: { cpus: 8, memory_mb: 16384, disk_gb: 200 },
      labels: { zone: 'b', disk: 'ssd' },
      agent_version: expect.any(String),
    });
    expect(Date.now() - Date.parse(b.last_seen_at!)).toBeLessThan(5_000);
    // By name as well as by id.
    expect((await admin(apis[0]!.url).getHost('node-b')).id).toBe(b.id);
    const file = join(root, 'node-b', 'agent-credentials.json');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it('places VMs on hosts with room (spread), never overfilling one; no room anywhere is 503 naming what is short', async () => {
    const client = admin(apis[0]!.url);
    // 2 GB each: node-a has room for 4, node-b 8, node-c 2 — spread puts the first ones on the emptiest.
    const made = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        client.createVm({ name: `spread-${i}`, cpu_cores: 1, memory_mb: 2048, disk_gb: 5 }, { wait: true }),
      ),
    );
    expect(made.every((r) => r.vm.status === 'stopped')).toBe(true);
    const hosts = await client.listHosts();
    const used = new Set(made.map((r) => r.vm.host_id));
    expect(used.size).toBeGreaterThanOrEqual(2);
    for (const h of hosts) expect(h.allocated.memory_mb).toBeLessThanOrEqual(h.capacity.memory_mb);
    const err = await client.createVm({ name: 'too-big', cpu_cores: 1, memory_mb: 20_000, disk_gb: 5 }).catch((e: unknown) => e);
    expect(refusal(err)).toMatchObject({
      status: 503,
      code: 'INSUFFICIENT_CAPACITY',
      message: expect.stringMatching(/node-b is short of memory/),
    });
    for (const r of made) await client.deleteVm(r.vm.id, { wait: true });
  });

  it('honours the host labels a VM asks for, and a cordon', async () => {
    const client = admin(apis[1]!.url);
    const ssd = await client.createVm(
      { name: 'wants-ssd', memory_mb: 512, disk_gb: 1, placement: { host_labels: { disk: 'ssd' } } },
      { wait: true },
    );
    expect(ssd.vm.host_id).toBe(agents.get('node-b')!.host_id);
    await client.cordonHost('node-b');
    try {
      const err = await client
        .createVm({ name: 'ssd-again', memory_mb: 512, disk_gb: 1, placement: { host_labels: { disk: 'ssd' } } })
        .catch((e: unknown) => e);
      expect(refusal(err)).toMatchObject({ code: 'INSUFFICIENT_CAPACITY', message: expect.stringMatching(/node-b is cordoned/) });
      const others = await Promise.all(
        Array.from({ length: 4 }, (_, i) => client.createVm({ name: `not-b-${i}`, memory_mb: 512, disk_gb: 1 }, { wait: true })),
      );
      expect(others.map((r) => r.vm.host_id)).not.toContain(agents.get('node-b')!.host_id);
      for (const r of others) await client.deleteVm(r.vm.id, { wait: true });
      // Draining lists what still runs there; an occupied host cannot be removed.
      const drained = await client.drainHost('node-b');
      expect(drained.vms.map((v) => v.name)).toEqual(['wants-ssd']);
      expect(refusal(await client.removeHost('node-b').catch((e: unknown) => e)).status).toBe(409);
    } finally {
      await client.uncordonHost('node-b');
      await client.deleteVm(ssd.vm.id, { wait: true });
    }
  });

  it('runs a VM’s whole life on an agent’s host, through either API process', async () => {
    const one = admin(apis[0]!.url);
    const two = admin(apis[1]!.url);
    const { vm } = await one.createVm({ name: 'life', memory_mb: 512, disk_gb: 1 }, { wait: true });
    const told = await domainChangesHeard();
    await two.startVm(vm.id, { wait: true });
    expect((await one.getVm(vm.id)).status).toBe('running');
    await one.pauseVm(vm.id, { wait: true });
    await two.resumeVm(vm.id, { wait: true });
    await one.stopVm(vm.id, { wait: true });
    expect((await two.getVm(vm.id)).status).toBe('stopped');
    await two.deleteVm(vm.id, { wait: true });
    // Every change of its domain was an operation's doing, seen by the agent running it: none was
    // sent to the API to be looked up.
    expect(await domainChangesHeard()).toBe(told);
  });

  it('fetches an image a VM is made from onto the agent’s host (checked, cached, private), and serves agents nothing else', async () => {
    const iso = Buffer.concat([Buffer.alloc(32769), Buffer.from('CD001'), Buffer.alloc(8186)]);
    const up = await fetch(`${apis[0]!.url}/api/v1/images/upload?name=fleet.iso&kind=iso`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_ADMIN_KEY}`, 'content-type': 'application/octet-stream' },
      body: iso,
    });
    expect(up.status).toBe(201);
    const image = (await up.json()) as { id: string; sha256: string };
    const client = admin(apis[1]!.url);
    const { vm } = await client.createVm(
      { name: 'from-iso', memory_mb: 512, disk_gb: 1, image_id: image.id, host_id: 'node-a' },
      { wait: true },
    );
    expect(vm).toMatchObject({ status: 'stopped', iso_image_id: image.id });
    const cached = join(root, 'node-a', 'images', image.id);
    expect((await stat(cached)).mode & 0o777).toBe(0o600);
    expect(
      createHash('sha256')
        .update(await readFile(cached))
        .digest('hex'),
    ).toBe(image.sha256);
    // Once no operation on its host needs the image, the agent may not read it.
    const creds = JSON.parse(await readFile(join(root, 'node-a', 'agent-credentials.json'), 'utf8')) as { credential: string };
    const again = await fetch(`${apis[1]!.url}/agent/v1/images/${image.id}/content`, {
      headers: { authorization: `Bearer ${creds.credential}` },
    });
    expect(again.status).toBe(404);
    // Nor may a user's key read it through the agents' route.
    const asUser = await fetch(`${apis[1]!.url}/agent/v1/images/${image.id}/content`, {
      headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` },
    });
    expect(asUser.status).toBe(401);
    await client.deleteVm(vm.id, { wait: true });
  });

  it('exports a VM from an agent’s host through one API process and imports it through the other', async () => {
    const one = admin(apis[0]!.url);
    const { vm } = await one.createVm(
      { name: 'to-move', memory_mb: 512, disk_gb: 2, host_id: 'node-c', labels: { app: 'db' } },
      { wait: true },
    );
    const exported = await fetch(`${apis[1]!.url}/api/v1/vms/${vm.id}/export`, { headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } });
    expect(exported.status).toBe(200);
    const archive = Buffer.from(await exported.arrayBuffer());
    // manifest.json first, then the disk: 2 "GB" of 64 KiB each.
    expect(archive.subarray(0, 13).toString()).toBe('manifest.json');
    expect(archive.length).toBeGreaterThan(2 * 65536);
    // The agent ends the export once the last bytes have gone.
    expect((await one.waitForVm(vm.id, 'stopped')).vm.status).toBe('stopped');
    const imported = await fetch(`${apis[0]!.url}/api/v1/vms/import?name=moved`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_ADMIN_KEY}`, 'content-type': 'application/x-tar' },
      body: archive,
    });
    expect(imported.status, await imported.clone().text()).toBe(201);
    const copy = (await imported.json()) as {
      id: string;
      status: string;
      labels: Record<string, string>;
      disk_gb: number;
      host_id: string;
    };
    expect(copy).toMatchObject({ status: 'stopped', labels: { app: 'db' }, disk_gb: 2 });
    // The copy runs where the scheduler put it, and exports the same disk.
    await one.startVm(copy.id, { wait: true });
    await one.stopVm(copy.id, { wait: true });
    const again = await fetch(`${apis[0]!.url}/api/v1/vms/${copy.id}/export`, { headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } });
    const sha = (tar: Buffer) => /"sha256": "([0-9a-f]{64})"/.exec(tar.toString('latin1'))![1];
    expect(sha(Buffer.from(await again.arrayBuffer()))).toBe(sha(archive));
    await one.deleteVm(vm.id, { wait: true });
    await one.deleteVm(copy.id, { wait: true });
  });

  it('an agent that dies takes its host offline and its VMs unknown; back, it settles them', async () => {
    const client = admin(apis[0]!.url);
    const c = agents.get('node-c')!;
    const { vm } = await client.createVm({ name: 'on-c', memory_mb: 512, disk_gb: 1, host_id: 'node-c', start: true }, { wait: true });
    expect(vm).toMatchObject({ host_id: c.host_id, status: 'running' });
    await c.kill();
    const offline = await eventually(
      'node-c going offline',
      () => client.getHost('node-c'),
      (h) => h.status === 'offline',
    );
    expect(offline.status_reason).toMatch(/no heartbeat/);
    await eventually(
      'the VM going unknown',
      () => client.getVm(vm.id),
      (v) => v.status === 'unknown',
    );
    // Queued meanwhile (force_stop is what `unknown` allows): it waits for the host.
    const { operation } = await client.forceStopVm(vm.id);
    expect(operation!.status).toBe('pending');
    // The agent comes back with the credentials in its data directory (no join token needed).
    const back = await startAgentProcess({ ...agentEnv('node-c'), HANGAR_JOIN_TOKEN: '' });
    agents.set('node-c', back);
    expect(back.host_id).toBe(c.host_id);
    await eventually(
      'node-c back online',
      () => client.getHost('node-c'),
      (h) => h.status === 'online',
    );
    // Back, its agent runs what waited for it; the VM is what the host shows.
    const ended = await client.waitForOperation(operation!.id);
    expect(ended.status, ended.error ?? '').toBe('succeeded');
    expect((await client.getVm(vm.id)).status).toBe('stopped');
    await client.deleteVm(vm.id, { wait: true });
  });

  it('an agent’s credentials reach its own host’s work only: not another host’s operations, nor the user API', async () => {
    const creds = JSON.parse(await readFile(join(root, 'node-a', 'agent-credentials.json'), 'utf8')) as { credential: string };
    const asAgentA = createTRPCClient<AppRouter>({
      links: [httpLink({ url: `${apis[1]!.url}/trpc`, headers: { authorization: `Bearer ${creds.credential}` } })],
    });
    const client = admin(apis[1]!.url);
    // An operation of node-b, queued while node-b's agent is away (so it stays pending).
    await agents.get('node-b')!.stop();
    const { vm, operation } = await client.createVm({ name: 'b-only', memory_mb: 512, disk_gb: 1, host_id: 'node-b' });
    try {
      // Claims by node-a's agent never return it.
      const claimed = await asAgentA.agent.claim.mutate({ worker_id: 'thief', wait_ms: 0 });
      expect(claimed?.operation.id).not.toBe(operation!.id);
      expect(await asAgentA.agent.renew.mutate({ worker_id: 'thief', operation_id: operation!.id })).toEqual({ held: false });
      const ended = await asAgentA.agent.finish.mutate({
        worker_id: 'thief',
        operation_id: operation!.id,
        result: 'succeeded',
        outcome: { status: 'stopped', vm: { domain_ref: 'stolen' } },
      });
      expect(ended).toEqual({ ended: false });
      const image = await asAgentA.agent.image
        .mutate({ worker_id: 'thief', operation_id: operation!.id, image_id: '00000000-0000-4000-8000-000000000000' })
        .catch((e: unknown) => e);
      expect((image as TRPCClientError<AppRouter>).data?.httpStatus).toBe(404);
      // The user API refuses agent credentials outright.
      const users = createTRPCClient<AppRouter>({
        links: [httpLink({ url: `${apis[1]!.url}/trpc`, headers: { authorization: `Bearer ${creds.credential}` } })],
      });
      const refused = await users.vms.list.query({}).catch((e: unknown) => e);
      expect((refused as TRPCClientError<AppRouter>).data?.httpStatus).toBe(403);
      expect((await client.getVm(vm.id)).status).toBe('provisioning');
    } finally {
      await startAgent('node-b');
      expect((await client.waitForVm(vm.id, 'stopped')).vm.status).toBe('stopped');
      await client.deleteVm(vm.id, { wait: true });
    }
  });

  it.skipIf(qemuSkipReason() !== null)(
    'runs real VMs on an agent with the QEMU driver: they outlive the agent, and settle back to running when it returns',
    async () => {
      const guest = testGuest();
      const env = {
        ...agentEnv('node-a'),
        HANGAR_HOST_NAME: 'node-q',
        HANGAR_HOST_LABELS: 'hypervisor=qemu',
        HANGAR_DATA_DIR: join(root, 'node-q'),
        HANGAR_DRIVER: 'qemu',
        HANGAR_QEMU_ACCEL: 'tcg',
        HANGAR_QEMU_KERNEL: guest.kernel,
        HANGAR_QEMU_INITRD: guest.initrd ?? '',
        HANGAR_QEMU_APPEND: guest.append ?? '',
      };
      let q = await startAgentProcess(env);
      const client = admin(apis[1]!.url);
      try {
        const { vm } = await client.createVm(
          { name: 'real', cpu_cores: 1, memory_mb: 256, disk_gb: 1, placement: { host_labels: { hypervisor: 'qemu' } }, start: true },
          { wait: true },
        );
        expect(vm).toMatchObject({ host_id: q.host_id, status: 'running' });
        await waitForText(join(root, 'node-q', 'vms', vm.id, 'console.log'), 'hangar-test-guest: up');
        const qemu = await qemuProcessesUnder(join(root, 'node-q'));
        expect(qemu).toHaveLength(1);
        await q.kill();
        await eventually(
          'the VM going unknown',
          () => client.getVm(vm.id),
          (v) => v.status === 'unknown',
        );
        // The machine is still running the guest: the agent was all that died.
        expect(await qemuProcessesUnder(join(root, 'node-q'))).toEqual(qemu);
        q = await startAgentProcess({ ...env, HANGAR_JOIN_TOKEN: '' });
        await eventually(
          'the VM settling back',
          () => client.getVm(vm.id),
          (v) => v.status === 'running',
        );
        await client.stopVm(vm.id, { wait: true });
        await client.deleteVm(vm.id, { wait: true });
        expect(await qemuProcessesUnder(join(root, 'node-q'))).toEqual([]);
        await client.removeHost('node-q');
      } finally {
        await q.stop();
      }
    },
    180_000,
  );

  it('keeps agents and SDK clients working when one API process dies', async () => {
    await apis[0]!.kill();
    const client = admin(apis[1]!.url);
    // Agents that were talking to the first process fail over to the second.
    const made = await Promise.all(
      (['node-a', 'node-b', 'node-c'] as const).map((h) =>
        client.createVm({ name: `after-${h}`, memory_mb: 512, disk_gb: 1, host_id: h, start: true }, { wait: true }),
      ),
    );
    expect(made.map((r) => r.vm.status)).toEqual(['running', 'running', 'running']);
    const hosts = await eventually(
      'heartbeats through the second API process',
      () => client.listHosts(),
      (hs) => hs.every((h) => h.status === 'online' && Date.now() - Date.parse(h.last_seen_at!) < 2_000),
    );
    expect(hosts).toHaveLength(3);
    for (const r of made) await client.deleteVm(r.vm.id, { wait: true });
  });
});
