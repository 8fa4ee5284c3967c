import { randomBytes } from 'node:crypto';
import { cp as copy, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type HostInventory, registerHost, type Scope } from '../src/index.js';
import { ensureProject } from '../src/services/projects.js';
import { connectPostgres } from '../src/store/connect.js';
import { MIGRATIONS_FOLDER } from '../src/store/migrate.js';
import { insertVm } from '../src/store/vm-rows.js';
import { startTestControlPlane, type TestControlPlane } from '../src/testing/index.js';

const small = { cpu_cores: 1, memory_mb: 256, disk_gb: 1 };

let cp: TestControlPlane;
beforeAll(async () => {
  cp = await startTestControlPlane();
});
afterAll(() => cp?.shutdown());

async function projectScope(name: string): Promise<Scope> {
  return { project_id: (await ensureProject(cp.database.db, name)).id, actor: 'test' };
}

describe('VM numbers', () => {
  it('count 1, 2, 3 in each project, every project from 1', async () => {
    const a = await projectScope('numbers-a');
    const b = await projectScope('numbers-b');
    const numbers = async (scope: Scope, names: string[]) => {
      const out: number[] = [];
      for (const name of names) out.push((await cp.services.vms.create(scope, { name, ...small })).vm.number);
      return out;
    };
    expect(await numbers(a, ['a-1', 'a-2'])).toEqual([1, 2]);
    expect(await numbers(b, ['b-1'])).toEqual([1]);
    expect(await numbers(a, ['a-3'])).toEqual([3]);
    expect(await numbers(b, ['b-2', 'b-3'])).toEqual([2, 3]);
    // As read back, not only as the create answered.
    const listed = await cp.services.vms.list(a, {});
    expect(listed.vms.map((v) => [v.name, v.number])).toEqual([
      ['a-3', 3],
      ['a-2', 2],
      ['a-1', 1],
    ]);
  });

  it('never gives a deleted VM’s number again; a refused create takes none', async () => {
    const scope = await projectScope('numbers-deleted');
    const first = await cp.services.vms.create(scope, { name: 'gone', ...small });
    await cp.services.operations.wait(scope, first.operation!.id, { timeout_ms: 5_000 });
    const del = await cp.services.vms.delete(scope, first.vm.id, {});
    await cp.services.operations.wait(scope, del.operation!.id, { timeout_ms: 5_000 });
    const deleted = await cp.services.vms.get(scope, first.vm.id);
    expect(deleted).toMatchObject({ status: 'deleted', number: 1 });

    // Its name is free again, its number is not.
    const again = await cp.services.vms.create(scope, { name: 'gone', ...small });
    expect(again.vm.number).toBe(2);
    // A create refused inside its transaction (the name is taken) rolls its number back.
    await expect(cp.services.vms.create(scope, { name: 'gone', ...small })).rejects.toMatchObject({ code: 'NAME_TAKEN' });
    expect((await cp.services.vms.create(scope, { name: 'after', ...small })).vm.number).toBe(3);
  });

  it('gives 20 concurrent creates in one project 20 distinct numbers, with or without a quota row', async () => {
    for (const quota of [false, true]) {
      const scope = await projectScope(`numbers-race-${quota}`);
      if (quota) await cp.services.projects.set_quotas(scope.project_id, { vms: 100 });
      const created = await Promise.all(
        Array.from({ length: 20 }, (_, i) => cp.services.vms.create(scope, { name: `race-${i}`, ...small }).then((r) => r.vm)),
      );
      expect(created.map((v) => v.number).sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      const [row] = await cp.database.sql`SELECT next_vm_number FROM projects WHERE id = ${scope.project_id}`;
      expect(row!.next_vm_number).toBe(21);
    }
  });

  it('are listed by number and by exact name; a deleted VM’s number only with include_deleted', async () => {
    const scope = await projectScope('numbers-list');
    const [one, two] = [
      await cp.services.vms.create(scope, { name: 'web', ...small }),
      await cp.services.vms.create(scope, { name: 'web-2', ...small }),
    ];
    const byNumber = await cp.services.vms.list(scope, { number: 2 });
    expect(byNumber.vms.map((v) => v.id)).toEqual([two.vm.id]);
    expect((await cp.services.vms.list(scope, { number: 3 })).total).toBe(0);
    // `name` is exact where `search` is a substring.
    expect((await cp.services.vms.list(scope, { name: 'web' })).vms.map((v) => v.id)).toEqual([one.vm.id]);
    expect((await cp.services.vms.list(scope, { search: 'web' })).total).toBe(2);
    expect((await cp.services.vms.list(scope, { name: 'we' })).total).toBe(0);

    await cp.services.operations.wait(scope, one.operation!.id, { timeout_ms: 5_000 });
    const del = await cp.services.vms.delete(scope, one.vm.id, {});
    await cp.services.operations.wait(scope, del.operation!.id, { timeout_ms: 5_000 });
    expect((await cp.services.vms.list(scope, { number: 1 })).total).toBe(0);
    expect((await cp.services.vms.list(scope, { number: 1, include_deleted: true })).vms.map((v) => v.id)).toEqual([one.vm.id]);

    for (const number of [0, -1, 1.5, 2 ** 31]) {
      await expect(cp.services.vms.list(scope, { number })).rejects.toMatchObject({ code: 'VALIDATION' });
    }
    await expect(cp.services.vms.list(scope, { name: 'Not A Name' })).rejects.toMatchObject({ code: 'VALIDATION' });
  });

  it('are given to imported VMs too', async () => {
    const scope = cp.scope;
    const src = await cp.services.vms.create(scope, { name: 'to-export', ...small });
    await cp.services.operations.wait(scope, src.operation!.id, { timeout_ms: 5_000 });
    const exp = await cp.archives.exportVm(scope, src.vm.id, {});
    const parts: Buffer[] = [];
    for await (const c of exp.stream) parts.push(c as Buffer);
    await cp.services.operations.wait(scope, exp.operation.id, { timeout_ms: 5_000 });
    const { Readable } = await import('node:stream');
    const copied = await cp.archives.importVm(scope, Readable.from([Buffer.concat(parts)]), { name: 'imported' });
    expect(copied.number).toBe(src.vm.number + 1);
    expect((await cp.services.vms.get(scope, copied.id)).number).toBe(copied.number);
  });
});

describe('host numbers', () => {
  // No room: nothing the tests create is placed on these hosts.
  const empty: HostInventory = { capacity: { cpus: 0, memory_mb: 0, disk_gb: 0 }, gpus: [] };

  it('number hosts in the fleet, keep a host’s number when it registers again, and skip none', async () => {
    const sim = await cp.services.hosts.get('sim-1');
    expect(sim.number).toBe(1);
    const second = await registerHost(cp.database.db, { name: 'second', driver: 'simulated', inventory: empty });
    expect(second.number).toBe(2);
    // Every API start registers its hosts again.
    expect((await registerHost(cp.database.db, { name: 'second', driver: 'simulated', inventory: empty })).number).toBe(2);
    expect(
      (await registerHost(cp.database.db, { name: 'sim-1', driver: 'simulated', inventory: await cp.driver.inventory() })).number,
    ).toBe(1);
    const third = await registerHost(cp.database.db, { name: '77', driver: 'simulated', inventory: empty });
    expect(third.number).toBe(3);
    expect((await cp.services.hosts.list()).map((h) => [h.name, h.number])).toEqual([
      ['77', 3],
      ['second', 2],
      ['sim-1', 1],
    ]);
  });

  it('take all digits as a host’s number first, then as its name', async () => {
    // A host named like another's number.
    const named = await registerHost(cp.database.db, { name: '1', driver: 'simulated', inventory: empty });
    expect(named.number).toBe(4);
    // sim-1's row written again after it: the name's row is then no longer first in the table.
    await registerHost(cp.database.db, { name: 'sim-1', driver: 'simulated', inventory: await cp.driver.inventory() });
    expect((await cp.services.hosts.get('1')).name).toBe('sim-1');
    expect((await cp.services.hosts.get('4')).name).toBe('1');
    expect((await cp.services.hosts.get('77')).name).toBe('77');
    expect((await cp.services.hosts.get('second')).number).toBe(2);
    expect((await cp.services.hosts.get(named.id)).name).toBe('1');
    await expect(cp.services.hosts.get('99')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(cp.services.hosts.get('99999999999')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect((await cp.services.hosts.cordon('4')).name).toBe('1');
    await cp.services.hosts.uncordon('4');
    // Removing locks the row it finds the same way.
    expect((await cp.services.hosts.remove('3')).name).toBe('77');
    await expect(cp.services.hosts.get('77')).rejects.toMatchObject({ code: 'NOT_FOUND' });

    const scope = await projectScope('numbers-hosts');
    const vm = (await cp.services.vms.create(scope, { name: 'on-sim', ...small })).vm;
    const onHost = async (host_id: string) => (await cp.services.vms.list(scope, { host_id })).vms.map((v) => v.id);
    expect(await onHost('1')).toEqual([vm.id]);
    expect(await onHost('sim-1')).toEqual([vm.id]);
    expect(await onHost('4')).toEqual([]);
    expect(await onHost('2')).toEqual([]);
    expect(await onHost('99')).toEqual([]);

    // Placing by number.
    const placed = await cp.services.vms.create(scope, { name: 'placed', ...small, host_id: '1' });
    expect(placed.vm.host_id).toBe(vm.host_id);
    await expect(cp.services.vms.create(scope, { name: 'nowhere', ...small, host_id: '99' })).rejects.toMatchObject({ code: 'VALIDATION' });
  });
});

describe('the migration that brought numbers', () => {
  it('numbers existing VMs by age within each project, and hosts by age, and sets the counters after them', async () => {
    const admin = connectPostgres(inject('pgAdminUrl'), { max: 1, onnotice: () => {} });
    const name = `hangar_migration_${randomBytes(6).toString('hex')}`;
    await admin.unsafe(`CREATE DATABASE ${name}`);
    const url = new URL(inject('pgAdminUrl'));
    url.pathname = `/${name}`;
    const sql = connectPostgres(url.toString(), { max: 2, onnotice: () => {} });
    const before = await mkdtemp(join(tmpdir(), 'hangar-migrations-'));
    try {
      // The migrations as they were before this one.
      await copy(MIGRATIONS_FOLDER, before, { recursive: true });
      const journal = JSON.parse(await readFile(join(before, 'meta/_journal.json'), 'utf8'));
      const at = journal.entries.findIndex((e: { tag: string }) => e.tag === '0009_vm_numbers');
      expect(at).toBeGreaterThan(0);
      journal.entries = journal.entries.slice(0, at);
      await writeFile(join(before, 'meta/_journal.json'), JSON.stringify(journal));
      const db = drizzle(sql);
      await migrate(db, { migrationsFolder: before });

      const [p1] = await sql`INSERT INTO projects (name) VALUES ('one') RETURNING id`;
      const [p2] = await sql`INSERT INTO projects (name) VALUES ('two') RETURNING id`;
      const [p3] = await sql`INSERT INTO projects (name) VALUES ('empty') RETURNING id`;
      await sql`INSERT INTO hosts (name, driver, created_at) VALUES ('later', 'simulated', '2026-01-02'), ('earlier', 'simulated', '2026-01-01')`;
      const vm = async (project: string, vmName: string, created: string, deleted = false) => {
        const [row] = await sql`
          INSERT INTO vms (project_id, name, status, cpu_cores, memory_mb, disk_gb, os_type, network, created_at, deleted_at)
          VALUES (${project}, ${vmName}, ${deleted ? 'deleted' : 'stopped'}, 1, 256, 1, 'linux', ${JSON.stringify({ type: 'nat' })}::jsonb,
                  ${created}, ${deleted ? created : null})
          RETURNING id`;
        return row!.id as string;
      };
      const third = await vm(p1!.id, 'third', '2026-03-03');
      const first = await vm(p1!.id, 'first', '2026-03-01', true);
      const second = await vm(p1!.id, 'second', '2026-03-02');
      const other = await vm(p2!.id, 'other', '2026-03-05');
      await sql`INSERT INTO idempotency_keys (project_id, key, request_hash, response)
                VALUES (${p1!.id}, 'k', 'h', ${JSON.stringify({ vm: { id: second, name: 'second' }, operation: null })}::jsonb),
                       (${p1!.id}, 'not-a-vm', 'h', ${JSON.stringify({ something: 'else' })}::jsonb)`;

      await migrate(db, { migrationsFolder: MIGRATIONS_FOLDER });

      const numbers = Object.fromEntries((await sql`SELECT id, number FROM vms`).map((r) => [r.id, r.number]));
      expect([numbers[first], numbers[second], numbers[third], numbers[other]]).toEqual([1, 2, 3, 1]);
      const counters = Object.fromEntries((await sql`SELECT name, next_vm_number FROM projects`).map((r) => [r.name, r.next_vm_number]));
      expect(counters).toEqual({ one: 4, two: 2, empty: 1 });
      const hosts = await sql`SELECT name, number FROM hosts ORDER BY number`;
      expect(hosts.map((h) => [h.name, h.number])).toEqual([
        ['earlier', 1],
        ['later', 2],
      ]);
      // An identity column, as schema.ts declares it (`generatedAlwaysAsIdentity`), on the sequence drizzle names.
      const [identity] = await sql`
        SELECT a.attidentity, pg_get_serial_sequence('hosts', 'number') AS seq, a.attnotnull
        FROM pg_attribute a WHERE a.attrelid = 'hosts'::regclass AND a.attname = 'number'`;
      expect(identity).toEqual({ attidentity: 'a', seq: 'public.hosts_number_seq', attnotnull: true });
      // The sequence goes on after them.
      const [added] = await sql`INSERT INTO hosts (name, driver) VALUES ('new', 'simulated') RETURNING number`;
      expect(added!.number).toBe(3);
      // The counters go on after the numbers given.
      const network = { type: 'nat' as const, bridge_name: null, mac_address: null, ip_address: null };
      const base = { status: 'stopped', ...small, os_type: 'linux', network };
      expect((await insertVm(db as never, { project_id: p1!.id, name: 'fourth', ...base })).number).toBe(4);
      expect((await insertVm(db as never, { project_id: p3!.id, name: 'only', ...base })).number).toBe(1);
      // A stored answer replays with the number the VM got.
      const stored = Object.fromEntries((await sql`SELECT key, response FROM idempotency_keys`).map((r) => [r.key, r.response]));
      expect(stored.k).toEqual({ vm: { id: second, name: 'second', number: 2 }, operation: null });
      expect(stored['not-a-vm']).toEqual({ something: 'else' });
      await expect(sql`UPDATE vms SET number = 1 WHERE id = ${third}`).rejects.toMatchObject({ code: '23505' });
    } finally {
      await sql.end();
      await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
      await rm(before, { recursive: true, force: true });
    }
  });
});
