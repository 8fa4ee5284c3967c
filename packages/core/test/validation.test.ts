import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HangarError } from '../src/index.js';
import { startTestControlPlane, type TestControlPlane } from '../src/testing/index.js';

let cp: TestControlPlane;
let vmId: string;
beforeAll(async () => {
  cp = await startTestControlPlane();
  const r = await cp.services.vms.create(cp.scope, { name: 'target', memory_mb: 512, disk_gb: 5, cpu_cores: 1 });
  await cp.services.operations.wait(cp.scope, r.operation!.id, { timeout_ms: 10_000 });
  vmId = r.vm.id;
});
afterAll(() => cp?.shutdown());

/** Every table's rows, so "changes nothing" is checked on the data, not on counts alone. */
async function snapshot() {
  const sql = cp.database.sql;
  return {
    vms: await sql`SELECT * FROM vms ORDER BY id`,
    operations: await sql`SELECT * FROM operations ORDER BY id`,
    events: await sql`SELECT * FROM events ORDER BY id`,
    keys: await sql`SELECT * FROM idempotency_keys ORDER BY key`,
    projects: await sql`SELECT * FROM projects ORDER BY id`,
    hosts: await sql`SELECT * FROM hosts ORDER BY id`,
  };
}

const huge = 'a'.repeat(1024 * 1024);

describe('bad input', () => {
  it('is refused with a VALIDATION error naming the field, and changes nothing', async () => {
    // Untyped on purpose: these inputs are what JSON callers can send, not what TypeScript allows.
    const services = cp.services as any;
    const { scope } = cp;
    const good = { name: 'fine-name' };
    const cases: [string, () => Promise<unknown>][] = [
      ['create: nothing', () => services.vms.create(scope, {})],
      ['create: null', () => services.vms.create(scope, null)],
      ['create: a string', () => services.vms.create(scope, 'vm')],
      ['create: empty name', () => services.vms.create(scope, { name: '' })],
      ['create: uppercase name', () => services.vms.create(scope, { name: 'Web_1' })],
      ['create: 64-char name', () => services.vms.create(scope, { name: 'a'.repeat(64) })],
      ['create: 1 MB name', () => services.vms.create(scope, { name: huge })],
      ['create: 0 cpus', () => services.vms.create(scope, { ...good, cpu_cores: 0 })],
      ['create: 257 cpus', () => services.vms.create(scope, { ...good, cpu_cores: 257 })],
      ['create: 1.5 cpus', () => services.vms.create(scope, { ...good, cpu_cores: 1.5 })],
      ['create: cpus as text', () => services.vms.create(scope, { ...good, cpu_cores: '2' })],
      ['create: 64 MB memory', () => services.vms.create(scope, { ...good, memory_mb: 64 })],
      ['create: too much memory', () => services.vms.create(scope, { ...good, memory_mb: 4_194_305 })],
      ['create: 0 GB disk', () => services.vms.create(scope, { ...good, disk_gb: 0 })],
      ['create: unknown os', () => services.vms.create(scope, { ...good, os_type: 'beos' })],
      ['create: bad IPv4', () => services.vms.create(scope, { ...good, public_ip: '999.1.1.1' })],
      ['create: bad IPv6', () => services.vms.create(scope, { ...good, public_ip: '2001:db8::zz' })],
      ['create: bad label key', () => services.vms.create(scope, { ...good, labels: { 'bad key!': 'v' } })],
      ['create: control char in label', () => services.vms.create(scope, { ...good, labels: { k: 'a\u0000' } })],
      [
        'create: 65 labels',
        () => services.vms.create(scope, { ...good, labels: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v'])) }),
      ],
      ['create: bridge without name', () => services.vms.create(scope, { ...good, network: { type: 'bridge' } })],
      ['create: bad MAC', () => services.vms.create(scope, { ...good, network: { mac_address: 'zz:zz' } })],
      ['create: unknown field', () => services.vms.create(scope, { ...good, flavour: 'large' })],
      ['create: bad host id', () => services.vms.create(scope, { ...good, host_id: 'host-1' })],
      ['create: unknown host', () => services.vms.create(scope, { ...good, host_id: '00000000-0000-4000-8000-000000000000' })],
      ['create: empty idempotency key', () => services.vms.create(scope, good, { idempotency_key: '' })],
      ['create: idempotency key with space', () => services.vms.create(scope, good, { idempotency_key: 'a b' })],
      ['create: version 0', () => services.vms.create(scope, good, { expected_version: 0 })],
      ['create: unknown option', () => services.vms.create(scope, good, { retry: true } as never)],
      ['get: not a uuid', () => services.vms.get(scope, 'not-a-uuid')],
      ['get: a number', () => services.vms.get(scope, 42 as never)],
      ['list: per_page 0', () => services.vms.list(scope, { per_page: 0 })],
      ['list: per_page 101', () => services.vms.list(scope, { per_page: 101 })],
      ['list: page 0', () => services.vms.list(scope, { page: 0 })],
      ['list: unknown status', () => services.vms.list(scope, { status: 'flying' as never })],
      ['list: bad label selector', () => services.vms.list(scope, { label: 'bad key!=x' })],
      ['list: empty search', () => services.vms.list(scope, { search: '' })],
      ['list: unknown field', () => services.vms.list(scope, { sort: 'name' } as never)],
      ['list: bad cursor', () => services.vms.list(scope, { cursor: '!!!' })],
      ['update: nothing', () => services.vms.update(scope, vmId, {})],
      ['update: bad name', () => services.vms.update(scope, vmId, { name: 'BAD NAME' })],
      ['update: negative cpus', () => services.vms.update(scope, vmId, { cpu_cores: -1 })],
      ['update: unknown field', () => services.vms.update(scope, vmId, { colour: 'red' })],
      ['update: shrink disk', () => services.vms.update(scope, vmId, { disk_gb: 1, labels: { a: 'b' } })],
      ['update: bad id', () => services.vms.update(scope, 'x', { labels: {} })],
      ['delete: delete_disks as text', () => services.vms.delete(scope, vmId, { delete_disks: 'yes' as never })],
      ['delete: force as number', () => services.vms.delete(scope, vmId, { force: 1 as never })],
      ['start: unknown option', () => services.vms.start(scope, vmId, { now: true } as never)],
      ['stop: negative timeout', () => services.vms.stop(scope, vmId, { timeout_s: -1 })],
      ['stop: huge timeout', () => services.vms.stop(scope, vmId, { timeout_s: 99_999 })],
      ['restart: force as text', () => services.vms.restart(scope, vmId, { force: 'true' as never })],
      ['force_stop: bad id', () => services.vms.force_stop(scope, '')],
      ['reset: bad id', () => services.vms.reset(scope, '../etc')],
      ['pause: bad version', () => services.vms.pause(scope, vmId, { expected_version: -3 })],
      ['resume: bad key', () => services.vms.resume(scope, vmId, { idempotency_key: 'x'.repeat(256) })],
      ['events: limit 0', () => services.vms.events(scope, vmId, { limit: 0 })],
      ['events: negative after', () => services.vms.events(scope, vmId, { after: -1 })],
      ['wait: unknown status', () => services.vms.wait(scope, vmId, 'flying' as never)],
      ['wait: negative timeout', () => services.vms.wait(scope, vmId, 'running', { timeout_ms: -1 })],
      ['operations.get: bad id', () => services.operations.get(scope, 'op-1')],
      ['operations.list: limit 1000', () => services.operations.list(scope, { limit: 1000 })],
      ['operations.list: bad status', () => services.operations.list(scope, { status: 'weird' as never })],
      ['operations.wait: bad id', () => services.operations.wait(scope, 'nope')],
      ['projects.create: bad name', () => services.projects.create({ name: 'Bad Name' })],
      ['projects.get: bad id', () => services.projects.get('p')],
      ['hosts.get: bad id', () => services.hosts.get('not a host!')],
    ];
    const before = await snapshot();
    for (const [label, call] of cases) {
      const err = await call().then(
        () => null,
        (e: unknown) => e,
      );
      expect(err, label).toBeInstanceOf(HangarError);
      expect((err as HangarError).code, `${label}: ${(err as Error).message}`).toBe('VALIDATION');
      expect((err as HangarError).details.fields?.length, label).toBeGreaterThan(0);
      expect((err as Error).message.length, `${label}: message stays short`).toBeLessThan(1000);
    }
    expect(await snapshot()).toEqual(before);
  });

  it('names the failing fields', async () => {
    const err = (await cp.services.vms.create(cp.scope, { name: 'ok-name', cpu_cores: 0, public_ip: 'x' }).catch((e) => e)) as HangarError;
    expect(err.details.fields?.map((f) => f.path).sort()).toEqual(['cpu_cores', 'public_ip']);
  });

  it('accepts the older label shape, a list of keys', async () => {
    const r = await cp.services.vms.create(cp.scope, {
      name: 'labels-list',
      labels: ['test'] as never,
      memory_mb: 128,
      disk_gb: 1,
      cpu_cores: 1,
    });
    expect(r.vm.labels).toEqual({ test: '' });
  });
});
