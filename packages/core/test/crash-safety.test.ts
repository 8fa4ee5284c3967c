import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createServices, Reconciler, registerHost, SimulatedDriver, silentLogger, UrlPolicy, Worker } from '../src/index.js';
import { VmArchives } from '../src/services/archive/vm-archives.js';
import { serveFiles, startTestControlPlane, type TestControlPlane } from '../src/testing/index.js';
import { ImageDownloader } from '../src/worker/image-downloads.js';
import { houseKeep } from '../src/worker/maintenance/housekeeping.js';

// What must hold when processes die or race mid-operation: each test here was written against
// a breakage that the rest of the suite let through.

let cp: TestControlPlane | undefined;
afterEach(async () => {
  await cp?.shutdown();
  cp = undefined;
});

const small = { memory_mb: 128, disk_gb: 1, cpu_cores: 1 };

describe('leases', () => {
  it('does not let a worker that lost its lease end the operation', async () => {
    cp = await startTestControlPlane({ worker: false, reconciler: false });
    const { services, scope } = cp;
    const r = await services.vms.create(scope, { name: 'contested', ...small });
    const opId = r.operation!.id;
    cp.hypervisor.setLatency(600);
    // A long lease: no renewal happens during the test, so only the ending's own check stands.
    const loser = new Worker({ db: cp.database.db, drivers: cp.drivers, lease_ms: 60_000, poll_ms: 20, logger: silentLogger });
    loser.start();
    try {
      await expect
        .poll(async () => (await cp!.database.sql`SELECT lease_owner FROM operations WHERE id = ${opId}`)[0]!.lease_owner)
        .toBe(loser.id);
      // Taken over meanwhile (its lease had expired, as far as everyone else knew).
      await cp.database.sql`UPDATE operations SET lease_owner = 'the-heir' WHERE id = ${opId}`;
      await expect.poll(() => loser.inFlight, { timeout: 5_000 }).toBe(0);
    } finally {
      await loser.stop(100);
    }
    const [op] = await cp.database.sql`SELECT status, lease_owner FROM operations WHERE id = ${opId}`;
    expect(op).toMatchObject({ status: 'running', lease_owner: 'the-heir' });
    expect((await services.vms.get(scope, r.vm.id)).status).toBe('provisioning');
    const events = await services.vms.events(scope, r.vm.id);
    expect(events.some((e) => e.type === 'operation.succeeded' || e.type === 'operation.failed')).toBe(false);
  });

  it('takes over an image download whose downloader died, and finishes it', async () => {
    const body = randomBytes(64 * 1024);
    const files = await serveFiles({ '/disk.img': { body } });
    try {
      cp = await startTestControlPlane({ worker: false, reconciler: false });
      const { image } = await cp.services.images.register(cp.scope, { url: `${files.url}/disk.img`, kind: 'disk' });
      // A downloader claims the image and dies: no progress, no renewals.
      const mirror = new UrlPolicy(['127.0.0.1']);
      const dead = new ImageDownloader({ db: cp.database.db, store: cp.images, url_policy: mirror, lease_ms: 300, logger: silentLogger });
      expect((await dead.claim())?.id).toBe(image.id);
      const heir = new ImageDownloader({
        db: cp.database.db,
        store: cp.images,
        url_policy: mirror,
        lease_ms: 300,
        poll_ms: 50,
        logger: silentLogger,
      });
      expect(await heir.claim()).toBeNull(); // the lease still holds
      heir.start();
      try {
        await expect.poll(async () => (await cp!.services.images.get(cp!.scope, image.id)).status, { timeout: 10_000 }).toBe('ready');
      } finally {
        await heir.stop();
      }
      const [row] = await cp.database.sql`SELECT attempts, size_bytes FROM images WHERE id = ${image.id}`;
      expect(row).toMatchObject({ attempts: 2, size_bytes: String(body.length) });
      expect(files.hits.get('/disk.img')).toBe(1);
    } finally {
      await files.close();
    }
  });
});

describe('exports', () => {
  it('stop streaming once their lease is lost, and leave the operation to whoever holds it', async () => {
    cp = await startTestControlPlane({ reconciler: false });
    const r = await cp.services.vms.create(cp.scope, { name: 'exported', memory_mb: 128, disk_gb: 4, cpu_cores: 1 });
    await cp.services.operations.wait(cp.scope, r.operation!.id, { timeout_ms: 5_000 });
    const archives = new VmArchives({
      db: cp.database.db,
      drivers: cp.drivers,
      importDir: join(cp.dataDir, 'other-imports'),
      lease_ms: 300,
      logger: silentLogger,
    });
    const exp = await archives.exportVm(cp.scope, r.vm.id);
    const ended = new Promise<Error | null>((resolve) => {
      exp.stream.once('error', resolve);
      exp.stream.once('end', () => resolve(null));
    });
    // The client reads a little, then the operation is taken from this export (cancelled, or
    // claimed by another process after a stall).
    await new Promise((resolve) =>
      exp.stream.once('data', () => {
        exp.stream.pause();
        resolve(null);
      }),
    );
    await cp.database.sql`UPDATE operations SET lease_owner = 'the-heir' WHERE id = ${exp.operation.id}`;
    // A few renewals later the client reads on: it must find the stream stopped, not the rest of the disk.
    await new Promise((resolve) => setTimeout(resolve, 600));
    exp.stream.resume();
    expect((await ended)?.message).toMatch(/lost its lease/);
    // The heir's lease expires unrenewed and this control plane's worker ends the operation as
    // an export whose server is gone; the export itself wrote nothing after losing its lease.
    const { operation } = await cp.services.operations.wait(cp.scope, exp.operation.id, { timeout_ms: 5_000 });
    expect(operation).toMatchObject({ status: 'failed', error: expect.stringMatching(/ended with the server/) });
    expect((await cp.services.vms.get(cp.scope, r.vm.id)).status).toBe('stopped');
  });
});

describe('the reconciler', () => {
  it('does not overwrite a VM that changed between its read and its correction', async () => {
    cp = await startTestControlPlane({ reconciler: false });
    const { services, scope } = cp;
    const r = await services.vms.create(scope, { name: 'drifting', start: true, ...small });
    await services.operations.wait(scope, r.operation!.id, { timeout_ms: 5_000 });
    // The domain vanishes without an event: only the periodic pass can notice.
    cp.hypervisor.domains.delete(await cp.domainRef(r.vm.id));
    const reconciler = new Reconciler({ db: cp.database.db, drivers: cp.drivers, logger: silentLogger });
    let pass: Promise<{ drifted: number }> | undefined;
    await cp.database.sql.begin(async (tx) => {
      // Hold the VM's row while the pass reads it, then change the VM before the pass may write.
      await tx`SELECT id FROM vms WHERE id = ${r.vm.id} FOR UPDATE`;
      pass = reconciler.runOnce();
      await expect
        .poll(async () => (await cp!.database.sql`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock'`)[0]!.n)
        .toBeGreaterThan(0);
      await tx`UPDATE vms SET labels = '{"touched":"yes"}', version = version + 1 WHERE id = ${r.vm.id}`;
    });
    expect((await pass!).drifted).toBe(0);
    const vm = await services.vms.get(scope, r.vm.id);
    expect(vm).toMatchObject({ status: 'running', labels: { touched: 'yes' } });
    expect((await services.vms.events(scope, r.vm.id)).some((e) => e.type === 'vm.drift')).toBe(false);
    // The next pass, on the VM as it now is, corrects it.
    expect((await reconciler.runOnce()).drifted).toBe(1);
  });

  it('forgets idempotency keys after 24 hours, not before', async () => {
    cp = await startTestControlPlane({ reconciler: false });
    const { services, scope } = cp;
    const young = await services.vms.create(scope, { name: 'young', ...small }, { idempotency_key: 'young-key' });
    const old = await services.vms.create(scope, { name: 'old', ...small }, { idempotency_key: 'old-key' });
    await cp.database.sql`UPDATE idempotency_keys SET created_at = now() - interval '23 hours 50 minutes' WHERE key = 'young-key'`;
    await cp.database.sql`UPDATE idempotency_keys SET created_at = now() - interval '24 hours 10 minutes' WHERE key = 'old-key'`;
    await new Reconciler({ db: cp.database.db, drivers: cp.drivers, logger: silentLogger }).runOnce();
    const left = await cp.database.sql`SELECT key FROM idempotency_keys ORDER BY key`;
    expect(left.map((k) => k.key)).toEqual(['young-key']);
    // The young key still replays; the forgotten one makes a new attempt (refused: the name is taken).
    expect((await services.vms.create(scope, { name: 'young', ...small }, { idempotency_key: 'young-key' })).vm.id).toBe(young.vm.id);
    await expect(services.vms.create(scope, { name: 'old', ...small }, { idempotency_key: 'old-key' })).rejects.toMatchObject({
      code: 'NAME_TAKEN',
    });
    expect(old.vm.id).toBeTruthy();
  });

  it('logs a pass that fails, and keeps running', async () => {
    const failures: string[] = [];
    const logger = { info: () => {}, warn: () => {}, error: (_: object, msg?: string) => failures.push(msg ?? '') };
    // A database that fails every query.
    const down = new Proxy(
      {},
      {
        get: () => () => {
          throw new Error('the database is down');
        },
      },
    ) as never;
    const driver = new SimulatedDriver();
    const reconciler = new Reconciler({
      db: down,
      drivers: new Map([['h', driver]]),
      logger,
      interval_ms: 30,
      housekeeping_interval_ms: 30,
    });
    reconciler.start();
    await expect.poll(() => failures.filter((f) => f === 'reconciling failed').length).toBeGreaterThanOrEqual(2);
    await reconciler.stop();
    expect(failures).toContain('housekeeping failed');
  });

  it('does its housekeeping in one process at a time', async () => {
    cp = await startTestControlPlane({ reconciler: false });
    await cp.services.vms.create(cp.scope, { name: 'kept', ...small }, { idempotency_key: 'stale-key' });
    await cp.database.sql`UPDATE idempotency_keys SET created_at = now() - interval '2 days'`;
    const ttl = { idempotency_ttl_ms: 24 * 3600 * 1000 };
    // Another process is at it: this one leaves the chores alone.
    const busy = await cp.database.sql.reserve();
    try {
      await busy`BEGIN`;
      await busy`SELECT pg_advisory_xact_lock(${0x48414e47})`;
      expect(await houseKeep(cp.database.db, ttl)).toBeNull();
      await busy`COMMIT`;
    } finally {
      busy.release();
    }
    expect(await houseKeep(cp.database.db, ttl)).toBe(1);
    expect(await cp.database.sql`SELECT key FROM idempotency_keys`).toHaveLength(0);
  });
});

describe('placement', () => {
  it('places by free memory, and refuses what no host has memory for', async () => {
    cp = await startTestControlPlane({ worker: false, reconciler: false });
    const { services, scope } = cp;
    const host = cp.hosts[0]!.id;
    await cp.database.sql`UPDATE hosts SET cpus = 64, memory_mb = 4096, disk_gb = 1000, allocated_memory_mb = 3000 WHERE id = ${host}`;
    await expect(services.vms.create(scope, { name: 'too-big', cpu_cores: 1, memory_mb: 2048, disk_gb: 1 })).rejects.toMatchObject({
      code: 'INSUFFICIENT_CAPACITY',
    });
    expect(await cp.database.sql`SELECT id FROM vms`).toHaveLength(0);
    const fits = await services.vms.create(scope, { name: 'fits', cpu_cores: 1, memory_mb: 1024, disk_gb: 1 });
    expect(fits.vm.host_id).toBe(host);
    const [after] = await cp.database.sql`SELECT allocated_memory_mb FROM hosts WHERE id = ${host}`;
    expect(after!.allocated_memory_mb).toBe(4024);
  });

  it('spreads new VMs to the emptiest host, or packs them onto the fullest that has room', async () => {
    cp = await startTestControlPlane({ worker: false, reconciler: false });
    const { scope } = cp;
    const roomy = cp.hosts[0]!.id;
    await cp.database.sql`UPDATE hosts SET cpus = 64, memory_mb = 65536, disk_gb = 1000 WHERE id = ${roomy}`;
    const inventory = { capacity: { cpus: 64, memory_mb: 8192, disk_gb: 1000 }, gpus: [] };
    const small = (await registerHost(cp.database.db, { name: 'small', driver: 'simulated', inventory })).id;
    const spread = createServices({ db: cp.database.db, placement_strategy: 'spread' });
    const pack = createServices({ db: cp.database.db, placement_strategy: 'pack' });
    const vm = { cpu_cores: 1, memory_mb: 1024, disk_gb: 1 };
    expect((await spread.vms.create(scope, { name: 'spread-1', ...vm })).vm.host_id).toBe(roomy);
    expect((await pack.vms.create(scope, { name: 'pack-1', ...vm })).vm.host_id).toBe(small);
    // Packing fills the small host, then goes on to the next that has room.
    await cp.database.sql`UPDATE hosts SET allocated_memory_mb = 8192 WHERE id = ${small}`;
    expect((await pack.vms.create(scope, { name: 'pack-2', ...vm })).vm.host_id).toBe(roomy);
  });

  it('does not place VMs on a host whose worker stopped checking in', async () => {
    cp = await startTestControlPlane({ worker: false, reconciler: false });
    const { services, scope } = cp;
    await cp.database.sql`UPDATE hosts SET last_seen_at = now() - interval '10 minutes'`;
    await expect(services.vms.create(scope, { name: 'nowhere', ...small })).rejects.toMatchObject({ code: 'HOST_UNAVAILABLE' });
    expect(await cp.database.sql`SELECT id FROM vms`).toHaveLength(0);
    await cp.database.sql`UPDATE hosts SET last_seen_at = now()`;
    expect((await services.vms.create(scope, { name: 'somewhere', ...small })).vm.status).toBe('provisioning');
  });
});

describe('imports', () => {
  it('makes one VM of two parallel imports with one name, leaving no domain of the other', async () => {
    cp = await startTestControlPlane();
    const { services, scope } = cp;
    const r = await services.vms.create(scope, { name: 'source', ...small });
    await services.operations.wait(scope, r.operation!.id, { timeout_ms: 5_000 });
    const exported = await cp.archives!.exportVm(scope, r.vm.id);
    const parts: Buffer[] = [];
    for await (const c of exported.stream) parts.push(c as Buffer);
    const archive = Buffer.concat(parts);
    await services.vms.wait(scope, r.vm.id, 'stopped', { timeout_ms: 5_000 });
    const domainsBefore = cp.hypervisor.domains.size;
    const disksBefore = (await readdir(join(cp.dataDir, 'sim-disks'))).length;

    const results = await Promise.allSettled(
      [1, 2, 3].map(() => cp!.archives!.importVm(scope, Readable.from([archive]), { name: 'twin' })),
    );
    const ok = results.filter((x) => x.status === 'fulfilled');
    const refused = results.filter((x): x is PromiseRejectedResult => x.status === 'rejected');
    expect(ok).toHaveLength(1);
    for (const x of refused) expect(x.reason).toMatchObject({ code: 'NAME_TAKEN' });
    expect(cp.hypervisor.domains.size).toBe(domainsBefore + 1);
    expect((await readdir(join(cp.dataDir, 'sim-disks'))).length).toBe(disksBefore + 1);
    expect(await cp.database.sql`SELECT id FROM vms WHERE name = 'twin'`).toHaveLength(1);
  });
});
