import { Readable } from 'node:stream';
import { insertApiKey, type Scope } from '@hangar/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { restProcedures } from '../src/http/rest-routes.js';
import { STREAM_PATHS } from '../src/http/stream-routes.js';
import { type AppRouter, appRouter } from '../src/router.js';
import { startTestServer, TEST_ADMIN_PASSWORD, type TestServer } from '../src/testing.js';

/**
 * Who may call what, for every procedure of the API, over tRPC and REST (and the stream routes
 * over HTTP): each row gives the weakest role that may call it and how to build a valid input
 * from fixtures. Every principal is tried on every row: below the row's role it gets 403 and
 * nothing changes; at or above it succeeds. Rows whose input names a resource of a project are
 * tried on another project's resource too: 404, nothing changed, none of that project's data.
 */

// ---------------------------------------------------------------------------------------------
// The matrix
// ---------------------------------------------------------------------------------------------

/** Weakest first; `global` is a global admin, `public` needs no credentials at all. */
const LEVELS = ['public', 'viewer', 'operator', 'admin', 'global'] as const;
type Level = (typeof LEVELS)[number];

type Input = Record<string, unknown> | undefined;

/** Every procedure is called both ways: tRPC over raw HTTP, and its REST route. */
const TRANSPORTS = ['trpc', 'rest'] as const;
type Transport = (typeof TRANSPORTS)[number];

interface Row<I = Input> {
  /** The weakest principal that may call it. */
  min: Level;
  /** A valid input, built from one project's fixtures (`f.owner` is the caller where it is the caller's project). */
  input: (f: Fixtures) => I | Promise<I>;
  /** The input names a resource of a project: another project's principals get 404. */
  scoped?: true;
  /** A global admin may name another project's resource, or sees every project's (so no 404 nor leak check for it). */
  global_sees_all?: true;
  /** A successful call uses up its fixtures (deletes the VM, starts it...): each one gets fresh ones. */
  consumes?: true;
}

/** `vms.start`... as the router names them, so the compiler also wants a row for each. */
type Routers = AppRouter['_def']['record'];
type ProcedureName = Exclude<
  { [NS in keyof Routers & string]: `${NS}.${keyof Routers[NS] & string}` }[keyof Routers & string],
  AgentProcedure | 'events.watch'
>;
/**
 * The agent protocol takes agent credentials, not users': `agent-access.test.ts` covers it. The
 * watch stream answers a stream, not a value: `watch-stream.test.ts` covers who may watch what.
 */
type AgentProcedure = `agent.${string}`;
const isAgentProcedure = (name: string) => name.startsWith('agent.');

const vmId = async (f: Fixtures, state: VmState = 'stopped') => ({ id: await f.vm(state) });

const MATRIX = {
  'auth.token': { min: 'public', input: () => ({ username: 'admin', password: TEST_ADMIN_PASSWORD }) },
  'auth.whoami': { min: 'viewer', input: () => undefined },

  // Anyone manages their own keys; the user_id makes it name a user of a project.
  'api_keys.create': { min: 'viewer', scoped: true, global_sees_all: true, input: (f) => ({ name: 'matrix', user_id: f.owner.user_id }) },
  'api_keys.list': { min: 'viewer', input: () => undefined },
  'api_keys.revoke': { min: 'viewer', scoped: true, consumes: true, input: async (f) => ({ id: await f.apiKey() }) },

  'projects.list': { min: 'viewer', global_sees_all: true, input: () => undefined },
  'projects.create': { min: 'global', input: (f) => ({ name: f.name() }) },
  'projects.get_quotas': { min: 'viewer', scoped: true, global_sees_all: true, input: (f) => ({ id: f.project_id }) },
  'projects.set_quotas': { min: 'global', scoped: true, global_sees_all: true, input: (f) => ({ id: f.project_id, vms: 1000 }) },

  // Project admins; the procedures are open to viewers and the service refuses (403) the rest.
  'users.create': { min: 'admin', input: (f) => ({ username: f.name() }) },
  'users.list': { min: 'admin', global_sees_all: true, input: () => undefined },

  // Naming an image of the project makes creating a VM project-scoped too.
  'vms.create': {
    min: 'operator',
    scoped: true,
    input: async (f) => ({ name: f.name(), cpu_cores: 1, memory_mb: 256, disk_gb: 1, image_id: await f.image() }),
  },
  'vms.get': { min: 'viewer', scoped: true, input: (f) => vmId(f) },
  'vms.list': { min: 'viewer', input: () => undefined },
  'vms.update': { min: 'operator', scoped: true, input: async (f) => ({ ...(await vmId(f)), labels: { touched: f.name() } }) },
  'vms.delete': { min: 'operator', scoped: true, consumes: true, input: (f) => vmId(f) },
  'vms.start': { min: 'operator', scoped: true, consumes: true, input: (f) => vmId(f) },
  'vms.stop': { min: 'operator', scoped: true, consumes: true, input: (f) => vmId(f, 'running') },
  'vms.force_stop': { min: 'operator', scoped: true, consumes: true, input: (f) => vmId(f, 'running') },
  'vms.restart': { min: 'operator', scoped: true, consumes: true, input: (f) => vmId(f, 'running') },
  'vms.reset': { min: 'operator', scoped: true, consumes: true, input: (f) => vmId(f, 'running') },
  'vms.pause': { min: 'operator', scoped: true, consumes: true, input: (f) => vmId(f, 'running') },
  'vms.resume': { min: 'operator', scoped: true, consumes: true, input: (f) => vmId(f, 'paused') },
  'vms.events': { min: 'viewer', scoped: true, input: (f) => vmId(f) },
  'vms.get_config': { min: 'viewer', scoped: true, input: (f) => vmId(f) },
  'vms.console_log': { min: 'operator', scoped: true, input: (f) => vmId(f) },
  // The simulated host's screen is fake-screen.ts; the WebSocket itself: console-socket.test.ts.
  'vms.console_ticket': { min: 'operator', scoped: true, input: (f) => vmId(f, 'running') },
  'vms.configure': { min: 'operator', scoped: true, consumes: true, input: async (f) => ({ ...(await vmId(f)), memory_mb: 512 }) },
  'vms.resize': { min: 'operator', scoped: true, consumes: true, input: async (f) => ({ ...(await vmId(f)), cpu_cores: 2 }) },
  'vms.attach_iso': {
    min: 'operator',
    scoped: true,
    consumes: true,
    input: async (f) => ({ ...(await vmId(f)), image_id: await f.image() }),
  },
  'vms.eject_iso': { min: 'operator', scoped: true, consumes: true, input: (f) => vmId(f, 'with-iso') },
  'vms.wait': { min: 'viewer', scoped: true, input: async (f) => ({ ...(await vmId(f)), status: 'stopped', timeout_ms: 0 }) },

  'operations.get': { min: 'viewer', scoped: true, input: async (f) => ({ id: await f.operation() }) },
  'operations.list': { min: 'viewer', input: () => undefined },
  'operations.wait': { min: 'viewer', scoped: true, input: async (f) => ({ id: await f.operation(), timeout_ms: 0 }) },

  // 127.0.0.1 is refused by the download policy: the image is registered, then fails.
  'images.create': { min: 'operator', input: () => ({ url: 'http://127.0.0.1:9/matrix.iso' }) },
  'images.get': { min: 'viewer', scoped: true, input: async (f) => ({ id: await f.image() }) },
  'images.list': { min: 'viewer', input: () => undefined },
  'images.wait': { min: 'viewer', scoped: true, input: async (f) => ({ id: await f.image(), timeout_ms: 0 }) },
  'images.delete': { min: 'operator', scoped: true, consumes: true, input: async (f) => ({ id: await f.image() }) },

  // Hosts are the fleet's, not a project's.
  'gpus.list': { min: 'global', input: () => ({}) },
  'hosts.list': { min: 'global', input: () => undefined },
  'hosts.get': { min: 'global', input: async () => ({ id: await hostId() }) },
  'hosts.unmanaged_domains': { min: 'global', input: async () => ({ id: await hostId() }) },
  // A host of its own for each call, so that no other row loses the one VMs are placed on.
  'hosts.cordon': { min: 'global', consumes: true, input: async () => ({ id: await spareHost() }) },
  'hosts.uncordon': { min: 'global', consumes: true, input: async () => ({ id: await spareHost() }) },
  'hosts.drain': { min: 'global', consumes: true, input: async () => ({ id: await spareHost() }) },
  'hosts.set_labels': { min: 'global', consumes: true, input: async () => ({ id: await spareHost(), labels: { rack: 'r1' } }) },
  'hosts.remove': { min: 'global', consumes: true, input: async () => ({ id: await spareHost() }) },

  'join_tokens.create': { min: 'global', input: () => ({ description: 'matrix' }) },
  'join_tokens.list': { min: 'global', input: () => undefined },
  'join_tokens.revoke': {
    min: 'global',
    consumes: true,
    input: async () => ({ id: (await services().join_tokens.create('matrix', {})).join_token.id }),
  },
} satisfies Record<ProcedureName, Row>;

/** A request to a stream route (REST only: bodies and answers are streams, not JSON values). */
interface StreamRequest {
  params?: Record<string, string>;
  query?: Record<string, string>;
  body?: Uint8Array;
  type?: string;
}

/** The routes of stream-routes.ts, keyed by method and path under /api/v1. */
const STREAMS: Record<string, Row<StreamRequest>> = {
  'GET /vms/{id}/export': { min: 'operator', scoped: true, consumes: true, input: async (f) => ({ params: { id: await f.vm() } }) },
  'POST /vms/import': { min: 'operator', input: (f) => ({ query: { name: f.name() }, body: archive, type: 'application/x-tar' }) },
  'POST /images/upload': {
    min: 'operator',
    input: (f) => ({ query: { name: `${f.name()}.iso`, kind: 'iso' }, body: ISO, type: 'application/octet-stream' }),
  },
};

// ---------------------------------------------------------------------------------------------
// Principals and fixtures
// ---------------------------------------------------------------------------------------------

let server: TestServer;
/** The bootstrap project (the global admin's) and another one. */
let A: string;
let B: string;
/** B's names carry this, so an answer that shows any of them is easy to spot. */
const B_MARK = 'tenantb';

interface Who {
  label: string;
  level: Level;
  /** null: no credentials. */
  key: string | null;
  user_id: string;
  project_id: string;
}
let anonymous: Who;
let viewer: Who;
let operator: Who;
let admin: Who;
let globalAdmin: Who;
/** A project admin of B. */
let bAdmin: Who;
/** Project A's principals, weakest first. */
let principalsOfA: Who[];

type VmState = 'stopped' | 'running' | 'paused' | 'with-iso';

/** The bytes of the smallest file the image store takes for an ISO (the "CD001" signature at 32769). */
const ISO = new Uint8Array(Buffer.concat([Buffer.alloc(32769), Buffer.from('CD001'), Buffer.alloc(8186)]));
/** An exported VM, for the import route. */
let archive: Uint8Array;

const hostId = async () => (await services().hosts.list())[0]!.id;
let spares = 0;
/** A host no VM is placed on (it has no capacity): cordoning or removing it changes nothing else. */
const spareHost = async () =>
  (
    await services().hosts.register({
      name: `spare-${++spares}`,
      driver: 'simulated',
      inventory: { capacity: { cpus: 0, memory_mb: 0, disk_gb: 0 }, gpus: [] },
    })
  ).id;

let names = 0;
/** Shared fixtures, one per project and kind, made on first use. */
const shared = new Map<string, Promise<string>>();

/**
 * One project's fixtures, made through the services (not the API under test). Fresh ones are
 * new at every call: for calls expected to succeed and use them up. Otherwise they are shared,
 * since a refused call changes nothing (which the matrix checks).
 */
class Fixtures {
  constructor(
    readonly project_id: string,
    /** Whose keys `apiKey()` makes: the caller in its own project, the project's admin otherwise. */
    readonly owner: Who,
    private readonly fresh: boolean,
  ) {}

  name(): string {
    return `${this.project_id === B ? B_MARK : 'a'}-matrix-${++names}`;
  }

  vm(state: VmState = 'stopped'): Promise<string> {
    return this.once(`vm:${state}`, () => this.makeVm(state));
  }

  /** The create operation of the shared stopped VM. */
  operation(): Promise<string> {
    return this.once('operation', async () => {
      const vm = await new Fixtures(this.project_id, this.owner, false).vm();
      const ops = await services().operations.list(this.scope, { vm_id: vm });
      return ops.operations[0]!.id;
    });
  }

  /** A ready ISO image. */
  image(): Promise<string> {
    return this.once(
      'image',
      async () => (await services().images.upload(this.scope, { name: `${this.name()}.iso`, kind: 'iso' }, Readable.from([ISO]))).id,
    );
  }

  /** A key of the owner. */
  apiKey(): Promise<string> {
    return this.once(`key:${this.owner.user_id}`, async () => {
      const made = await insertApiKey(
        server.database.db,
        { id: this.owner.user_id, project_id: this.project_id },
        { name: 'fixture', role: 'viewer' },
      );
      return made.api_key.id;
    });
  }

  private get scope(): Scope {
    return { project_id: this.project_id, actor: 'fixtures' };
  }

  private once(kind: string, make: () => Promise<string>): Promise<string> {
    if (this.fresh) return make();
    const key = `${this.project_id}:${kind}`;
    if (!shared.has(key)) shared.set(key, make());
    return shared.get(key)!;
  }

  private async makeVm(state: VmState): Promise<string> {
    const image_id = state === 'with-iso' ? await new Fixtures(this.project_id, this.owner, false).image() : undefined;
    const start = state === 'running' || state === 'paused';
    const { vm } = await services().vms.create(this.scope, {
      name: this.name(),
      cpu_cores: 1,
      memory_mb: 256,
      disk_gb: 1,
      start,
      image_id,
    });
    await this.settle(vm.id, start ? 'running' : 'stopped');
    if (state === 'paused') {
      await services().vms.pause(this.scope, vm.id);
      await this.settle(vm.id, 'paused');
    }
    return vm.id;
  }

  private async settle(id: string, status: 'stopped' | 'running' | 'paused'): Promise<void> {
    const { timed_out, vm } = await services().vms.wait(this.scope, id, status, { timeout_ms: 15_000 });
    if (timed_out) throw new Error(`fixture VM ${id} is ${vm.status}, not ${status}`);
  }
}

const services = () => server.controlPlane.services;

beforeAll(async () => {
  // Disks of 1 MiB per "GB": exports and imports stay small.
  server = await startTestServer({ sim_bytes_per_gb: 2 ** 20 });
  A = server.bootstrap.project.id;
  anonymous = { label: 'anonymous', level: 'public', key: null, user_id: '', project_id: A };
  globalAdmin = { label: 'global admin', level: 'global', key: server.apiKey, user_id: server.bootstrap.admin.id, project_id: A };
  viewer = await principal('viewer', A);
  operator = await principal('operator', A);
  admin = await principal('admin', A);
  principalsOfA = [viewer, operator, admin, globalAdmin];
  const project = await call('trpc', 'projects.create', { name: `${B_MARK}-project` }, server.apiKey);
  expect(project.status).toBe(200);
  B = project.body.id;
  bAdmin = await principal('admin', B);

  // Some of B for A's lists to leak: a VM (and its operation), an image, a key.
  const inB = new Fixtures(B, bAdmin, false);
  await Promise.all([inB.operation(), inB.image(), inB.apiKey(), inB.vm('running')]);

  const scope = { project_id: A, actor: 'fixtures' };
  const exported = await server.controlPlane.archives.exportVm(scope, await new Fixtures(A, admin, true).vm(), { gzip: false });
  archive = new Uint8Array(Buffer.concat(await exported.stream.toArray()));
}, 60_000);
afterAll(() => server?.stop());

/** A user with `role` in `project` and a key of theirs, made by the global admin through the API. */
async function principal(role: 'viewer' | 'operator' | 'admin', project_id: string): Promise<Who> {
  const prefix = project_id === A ? 'a' : B_MARK;
  const user = await call('trpc', 'users.create', { username: `${prefix}-${role}`, role, project_id }, server.apiKey);
  expect(user.status).toBe(200);
  const key = await call('trpc', 'api_keys.create', { name: role, user_id: user.body.id }, server.apiKey);
  expect(key.status).toBe(200);
  return { label: `${prefix === 'a' ? '' : 'B '}${role}`, level: role, key: key.body.key, user_id: user.body.id, project_id };
}

// ---------------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------------

describe('the access matrix', () => {
  it('has a row for every procedure of the router, and none for a procedure that does not exist', () => {
    const procedures = Object.keys(appRouter._def.procedures)
      .filter((p) => !isAgentProcedure(p) && p !== 'events.watch')
      .sort();
    expect(Object.keys(MATRIX).sort()).toEqual(procedures);
    // Both transports can reach every row.
    expect(
      restProcedures()
        .map((p) => p.name)
        .sort(),
    ).toEqual(procedures);
  });

  it('has a row for every stream route, and none for a route that does not exist', () => {
    const routes = Object.keys(STREAMS).map((k) => k.split(' ')[1]!.replace('{id}', '00000000-0000-4000-8000-000000000000'));
    for (const pattern of STREAM_PATHS)
      expect(
        routes.filter((r) => pattern.test(`/api/v1${r}`)),
        String(pattern),
      ).toHaveLength(1);
    for (const route of routes)
      expect(
        STREAM_PATHS.filter((p) => p.test(`/api/v1${route}`)),
        route,
      ).toHaveLength(1);
  });

  for (const [name, row] of Object.entries(MATRIX) as [ProcedureName, Row][]) {
    it(`${name}: ${row.min} and up${row.scoped ? ', own project only' : ''}`, async () => {
      for (const transport of TRANSPORTS) await checkRow(row, (input, who) => call(transport, name, input as Input, who.key));
    });
  }

  for (const [route, row] of Object.entries(STREAMS)) {
    it(`${route}: ${row.min} and up${row.scoped ? ', own project only' : ''}`, async () => {
      await checkRow(row, (input, who) => stream(route, input as StreamRequest, who.key));
    });
  }
});

describe('API keys', () => {
  it('cannot be stronger than the role of the key that makes them (an admin acting with an operator key)', async () => {
    const weak = await call('trpc', 'api_keys.create', { name: 'weak', user_id: admin.user_id, role: 'operator' }, server.apiKey);
    expect(weak.body.api_key.role).toBe('operator');
    for (const transport of TRANSPORTS) {
      await refused(() => call(transport, 'api_keys.create', { name: 'up', role: 'admin' }, weak.body.key), 403);
      // Without a role the key would get its owner's (admin): refused as well.
      await refused(() => call(transport, 'api_keys.create', { name: 'up' }, weak.body.key), 403);
      // Nor stronger than its owner's role, whoever makes it.
      await refused(() => call(transport, 'api_keys.create', { name: 'up', role: 'operator' }, viewer.key), 403);
      await refused(() => call(transport, 'api_keys.create', { name: 'up', user_id: viewer.user_id, role: 'operator' }, admin.key), 403);
      await refused(() => call(transport, 'api_keys.create', { name: 'up', user_id: viewer.user_id, role: 'admin' }, server.apiKey), 403);
      // What the key has it may pass on.
      expect((await call(transport, 'api_keys.create', { name: 'same', role: 'operator' }, weak.body.key)).status).toBeLessThan(300);
    }
  });

  it('are made for other users by admins only', async () => {
    for (const transport of TRANSPORTS) {
      await refused(() => call(transport, 'api_keys.create', { name: 'theirs', user_id: viewer.user_id }, operator.key), 403);
      await refused(
        () => call(transport, 'api_keys.create', { name: 'theirs', user_id: operator.user_id, role: 'viewer' }, viewer.key),
        403,
      );
      // Another project's user does not exist for a project admin.
      await refused(() => call(transport, 'api_keys.create', { name: 'theirs', user_id: viewer.user_id }, bAdmin.key), 404);
      const made = await call(transport, 'api_keys.create', { name: 'theirs', user_id: viewer.user_id }, admin.key);
      expect(made.status).toBeLessThan(300);
      expect(made.body.api_key).toMatchObject({ user_id: viewer.user_id, role: 'viewer' });
    }
  });

  it("are listed and revoked by their owner or the project's admins only", async () => {
    const viewerKey = await new Fixtures(A, viewer, true).apiKey();
    const operatorKey = await new Fixtures(A, operator, true).apiKey();
    for (const transport of TRANSPORTS) {
      for (const who of [viewer, operator]) {
        const listed = await call(transport, 'api_keys.list', undefined, who.key);
        expect(listed.status).toBe(200);
        expect(listed.body.length).toBeGreaterThan(0);
        expect(
          listed.body.filter((k: { user_id: string }) => k.user_id !== who.user_id),
          who.label,
        ).toEqual([]);
      }
      const all = (await call(transport, 'api_keys.list', undefined, admin.key)).body.map((k: { id: string }) => k.id);
      expect(all).toEqual(expect.arrayContaining([viewerKey, operatorKey]));
      await refused(() => call(transport, 'api_keys.revoke', { id: viewerKey }, operator.key), 404);
      await refused(() => call(transport, 'api_keys.revoke', { id: operatorKey }, viewer.key), 404);
    }
    expect((await call('trpc', 'auth.whoami', undefined, viewer.key)).status).toBe(200);
    expect((await call('rest', 'api_keys.revoke', { id: viewerKey }, admin.key)).body.revoked_at).not.toBeNull();
  });

  it('are not revoked by a key with less than their role, even of the same user (403)', async () => {
    const db = server.database.db;
    const owner = { id: admin.user_id, project_id: A };
    const weak = await insertApiKey(db, owner, { name: 'dashboard', role: 'viewer' });
    const strong = await insertApiKey(db, owner, { name: 'deploys', role: 'admin' });
    const peer = await insertApiKey(db, owner, { name: 'dashboard-2', role: 'viewer' });
    for (const transport of TRANSPORTS) {
      await refused(() => call(transport, 'api_keys.revoke', { id: strong.api_key.id }, weak.key), 403, transport);
    }
    expect((await call('rest', 'auth.whoami', undefined, strong.key)).status).toBe(200);
    // Its equals and itself it may.
    expect((await call('rest', 'api_keys.revoke', { id: peer.api_key.id }, weak.key)).body.revoked_at).not.toBeNull();
    expect((await call('trpc', 'api_keys.revoke', { id: weak.api_key.id }, weak.key)).status).toBe(200);
    expect((await call('rest', 'api_keys.revoke', { id: strong.api_key.id }, admin.key)).body.revoked_at).not.toBeNull();
  });

  it('are refused once expired (401)', async () => {
    const db = server.database.db;
    const owner = { id: viewer.user_id, project_id: A };
    // Never used before it expired, so no cached principal can answer for it.
    const expired = await insertApiKey(db, owner, { name: 'expired', role: 'viewer', expires_at: new Date(Date.now() - 1000) });
    const current = await insertApiKey(db, owner, { name: 'current', role: 'viewer', expires_at: new Date(Date.now() + 3_600_000) });
    for (const transport of TRANSPORTS) {
      const r = await call(transport, 'auth.whoami', undefined, expired.key);
      expect(r.status, transport).toBe(401);
      expect(r.code).toBe('UNAUTHENTICATED');
      expect((await call(transport, 'auth.whoami', undefined, current.key)).status).toBe(200);
    }
    // One that expires while it is cached is refused from its expiry on, not the cache's.
    const soon = await insertApiKey(db, owner, { name: 'soon', role: 'viewer', expires_at: new Date(Date.now() + 1000) });
    expect((await call('trpc', 'auth.whoami', undefined, soon.key)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1100));
    expect((await call('rest', 'auth.whoami', undefined, soon.key)).status).toBe(401);
  });

  it("of a global admin are a global admin's business only", async () => {
    // The escalation: a project admin of the global admin's project minting a key for it,
    // which (with role admin) would be a global admin key.
    const gaKeys = async () =>
      (await call('trpc', 'api_keys.list', undefined, server.apiKey)).body.filter(
        (k: { user_id: string }) => k.user_id === globalAdmin.user_id,
      );
    const before = await gaKeys();
    expect(before.length).toBeGreaterThan(0);
    for (const transport of TRANSPORTS) {
      for (const role of ['admin', 'viewer', undefined]) {
        await refused(() => call(transport, 'api_keys.create', { name: 'mine-now', user_id: globalAdmin.user_id, role }, admin.key), 403);
      }
      const listed = await call(transport, 'api_keys.list', undefined, admin.key);
      expect(listed.status).toBe(200);
      expect(listed.body.length).toBeGreaterThan(0); // it does see the project's other keys
      expect(listed.body.filter((k: { user_id: string }) => k.user_id === globalAdmin.user_id)).toEqual([]);
      for (const key of before) await refused(() => call(transport, 'api_keys.revoke', { id: key.id }, admin.key), 404);
    }
    expect(await gaKeys()).toEqual(before);
    expect((await call('rest', 'auth.whoami', undefined, server.apiKey)).body).toMatchObject({ global_admin: true });
    // A global admin still manages its own keys.
    const own = await call('rest', 'api_keys.create', { name: 'ga-own', user_id: globalAdmin.user_id }, server.apiKey);
    expect(own.status).toBe(201);
    expect((await call('trpc', 'api_keys.revoke', { id: own.body.api_key.id }, server.apiKey)).status).toBe(200);
  });
});

describe('users', () => {
  it('are made by a project admin in its own project only, and never as global admins', async () => {
    for (const transport of TRANSPORTS) {
      await refused(() => call(transport, 'users.create', { username: 'planted', project_id: A }, bAdmin.key), 403);
      await refused(() => call(transport, 'users.create', { username: 'planted', project_id: B }, admin.key), 403);
      await refused(() => call(transport, 'users.create', { username: 'crowned', global_admin: true }, bAdmin.key), 403);
      await refused(() => call(transport, 'users.create', { username: 'crowned', global_admin: true, role: 'admin' }, admin.key), 403);
    }
  });

  it('are listed to a project admin from its own project only', async () => {
    for (const transport of TRANSPORTS) {
      for (const [who, project] of [
        [bAdmin, B],
        [admin, A],
      ] as const) {
        const listed = await call(transport, 'users.list', undefined, who.key);
        expect(listed.status).toBe(200);
        expect(listed.body.map((u: { id: string }) => u.id)).toContain(who.user_id);
        expect(
          listed.body.filter((u: { project_id: string }) => u.project_id !== project),
          who.label,
        ).toEqual([]);
      }
    }
  });
});

describe("another project's resources", () => {
  it('are not in the operations list, with or without a VM filter', async () => {
    const bVm = await new Fixtures(B, bAdmin, false).vm();
    for (const transport of TRANSPORTS) {
      for (const who of [...principalsOfA]) {
        for (const input of [undefined, { vm_id: bVm }]) {
          const listed = await call(transport, 'operations.list', input, who.key);
          expect(listed.status).toBe(200);
          expect(
            listed.body.operations.filter((o: { project_id: string }) => o.project_id !== A),
            `${who.label} ${JSON.stringify(input)}`,
          ).toEqual([]);
        }
      }
      const theirs = await call(transport, 'operations.list', undefined, bAdmin.key);
      expect(theirs.body.operations.length).toBeGreaterThan(0);
      expect(theirs.body.operations.every((o: { project_id: string }) => o.project_id === B)).toBe(true);
    }
  });

  it('are not found by id: an image', async () => {
    const image = await new Fixtures(B, bAdmin, false).image();
    for (const transport of TRANSPORTS) {
      for (const who of principalsOfA) await refused(() => call(transport, 'images.get', { id: image }, who.key), 404);
      expect((await call(transport, 'images.get', { id: image }, bAdmin.key)).status).toBe(200);
    }
  });

  it('cannot be exported, and a viewer exports nothing', async () => {
    const theirs = await new Fixtures(B, bAdmin, false).vm();
    const mine = await new Fixtures(A, admin, false).vm();
    await refused(() => stream('GET /vms/{id}/export', { params: { id: mine } }, viewer.key), 403);
    for (const who of [operator, admin, globalAdmin])
      await refused(() => stream('GET /vms/{id}/export', { params: { id: theirs } }, who.key), 404);
  });
});

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

interface Reply {
  status: number;
  /** The error's code (tRPC's `error.data.code`, REST's `code`). */
  code?: string;
  body: any;
  text: string;
}

const rank = (level: Level) => LEVELS.indexOf(level);
const ERROR_CODE: Record<number, string> = { 401: 'UNAUTHENTICATED', 403: 'FORBIDDEN' };

type Send = (input: unknown, who: Who) => Promise<Reply>;
type Expected = 'ok' | 401 | 403 | 404;

/**
 * Every principal on one row through one way of calling it: anonymous, each of project A's
 * (own resources, then B's where the row is scoped), and B's admin on A's resources.
 */
async function checkRow(row: Row<unknown>, send: Send): Promise<void> {
  // Unscoped rows are mostly lists, which show the newest first: B's newest VM and operation
  // are where a list that forgot its project filter shows B.
  if (!row.scoped) await new Fixtures(B, bAdmin, true).vm();
  const cases: { who: Who; expected: Expected; input: Promise<unknown> }[] = [];
  const plan = (who: Who, project: string, owner: Who, expected: Expected) =>
    // Inputs are built up front, in parallel (fresh VMs take a moment each).
    cases.push({ who, expected, input: Promise.resolve(row.input(new Fixtures(project, owner, expected === 'ok' && !!row.consumes))) });

  const allowed = (who: Who) => rank(who.level) >= rank(row.min);
  if (row.min !== 'public') plan(anonymous, A, admin, 401);
  for (const who of [...principalsOfA, ...(row.min === 'public' ? [anonymous] : [])]) {
    plan(who, A, who.key ? who : admin, allowed(who) ? 'ok' : 403);
  }
  if (row.scoped) {
    for (const who of principalsOfA) if (allowed(who) && !(who === globalAdmin && row.global_sees_all)) plan(who, B, bAdmin, 404);
    if (allowed(bAdmin)) plan(bAdmin, A, admin, 404);
  }

  // All made before any call: a fixture still being made would change the fingerprints.
  const inputs = await Promise.all(cases.map((c) => c.input));
  for (const [i, c] of cases.entries()) {
    const input = inputs[i];
    const label = `${c.who.label} with ${JSON.stringify(input, (_, v) => (v instanceof Uint8Array ? `${v.length} bytes` : v))}`;
    const leaks = c.who.project_id === A && !(c.who === globalAdmin && row.global_sees_all) ? await idsOfB(input) : [];
    if (c.expected === 'ok') {
      const r = await send(input, c.who);
      expect(r.status, `${label}: ${r.text.slice(0, 300)}`).toBeGreaterThanOrEqual(200);
      expect(r.status, `${label}: ${r.text.slice(0, 300)}`).toBeLessThan(300);
      expect(
        leaks.filter((id) => r.text.includes(id)),
        `${label} sees B's`,
      ).toEqual([]);
    } else {
      const r = await refused(() => send(input, c.who), c.expected, label);
      expect(
        leaks.filter((id) => r.text.includes(id)),
        `${label} sees B's`,
      ).toEqual([]);
    }
  }
}

/** Answered `status` (with its code for 401 and 403), and nothing changed. */
async function refused(send: () => Promise<Reply>, status: 401 | 403 | 404, label = ''): Promise<Reply> {
  const before = await fingerprint();
  const r = await send();
  expect(r.status, `${label}: ${r.text.slice(0, 300)}`).toBe(status);
  if (ERROR_CODE[status]) expect(r.code, label).toBe(ERROR_CODE[status]);
  expect(await fingerprint(), `${label} changed something`).toEqual(before);
  return r;
}

/**
 * What the API could change, less what the worker changes on its own (VM statuses and
 * versions, operations' progress, images' downloads, keys' last use).
 */
async function fingerprint(): Promise<Record<string, unknown>> {
  const [row] = await server.database.sql`
    SELECT
      (SELECT count(*) FROM projects) AS projects,
      (SELECT md5(coalesce(string_agg(row_to_json(q)::text, ',' ORDER BY project_id), '')) FROM project_quotas q) AS quotas,
      (SELECT md5(coalesce(string_agg(id || role || global_admin || project_id, ',' ORDER BY id), '')) FROM users) AS users,
      (SELECT count(*) FROM api_keys) AS keys,
      (SELECT count(*) FROM api_keys WHERE revoked_at IS NOT NULL) AS revoked_keys,
      (SELECT md5(coalesce(string_agg(id || name || labels::text, ',' ORDER BY id), '')) FROM vms) AS vms,
      (SELECT count(*) FROM operations) AS operations,
      (SELECT count(*) FROM images) AS images`;
  return { ...row };
}

/** Everything of project B by id, and its names' mark, less what the input itself names. */
async function idsOfB(input: unknown): Promise<string[]> {
  const rows = await server.database.sql<{ id: string }[]>`
    SELECT id::text FROM projects WHERE id = ${B}
    UNION ALL SELECT id::text FROM users WHERE project_id = ${B}
    UNION ALL SELECT id::text FROM api_keys WHERE project_id = ${B}
    UNION ALL SELECT id::text FROM vms WHERE project_id = ${B}
    UNION ALL SELECT id::text FROM operations WHERE project_id = ${B}
    UNION ALL SELECT id::text FROM images WHERE project_id = ${B}`;
  const named = JSON.stringify(input ?? null);
  return [B_MARK, ...rows.map((r) => r.id)].filter((id) => !named.includes(id));
}

const procedureType = (name: string) =>
  (appRouter._def.procedures as unknown as Record<string, { _def: { type: string } }>)[name]!._def.type;
const restRoute = new Map(restProcedures().map((p) => [p.name, p]));

/** A procedure over raw HTTP: tRPC's `/trpc/<name>`, or its REST route under /api/v1. */
async function call(transport: Transport, name: string, input: Input, key: string | null): Promise<Reply> {
  const headers: Record<string, string> = key ? { authorization: `Bearer ${key}` } : {};
  let url: URL;
  let init: RequestInit;
  if (transport === 'trpc') {
    url = new URL(`${server.url}/trpc/${name}`);
    if (procedureType(name) === 'mutation') {
      init = { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(input ?? {}) };
    } else {
      if (input !== undefined) url.searchParams.set('input', JSON.stringify(input));
      init = { headers };
    }
  } else {
    const route = restRoute.get(name)!;
    const fields: Record<string, unknown> = { ...input };
    const path = route.path.replace(/\{(\w+)\}/g, (_, param: string) => {
      const value = String(fields[param]);
      delete fields[param];
      return encodeURIComponent(value);
    });
    url = new URL(`${server.url}/api/v1${path}`);
    if (route.method === 'GET' || route.method === 'DELETE') {
      for (const [k, v] of Object.entries(fields)) for (const one of [v].flat()) url.searchParams.append(k, String(one));
      init = { method: route.method, headers };
    } else {
      init = { method: route.method, headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(fields) };
    }
  }
  const res = await fetch(url, init);
  const text = await res.text();
  const body = JSON.parse(text);
  if (transport === 'trpc') return { status: res.status, code: body.error?.data?.code, body: body.error ?? body.result?.data, text };
  return { status: res.status, code: body?.code, body, text };
}

/** A stream route: its answer is read to its end (an export holds its VM until then). */
async function stream(route: string, req: StreamRequest, key: string | null): Promise<Reply> {
  const [method, template] = route.split(' ') as [string, string];
  const url = new URL(`${server.url}/api/v1${template.replace(/\{(\w+)\}/g, (_, p: string) => encodeURIComponent(req.params![p]!))}`);
  for (const [k, v] of Object.entries(req.query ?? {})) url.searchParams.set(k, v);
  const headers: Record<string, string> = key ? { authorization: `Bearer ${key}` } : {};
  if (req.type) headers['content-type'] = req.type;
  const res = await fetch(url, { method, headers, body: req.body });
  const bytes = Buffer.from(await res.arrayBuffer());
  const json = (res.headers.get('content-type') ?? '').includes('json');
  const body = json ? JSON.parse(bytes.toString()) : null;
  return {
    status: res.status,
    code: body?.code,
    body,
    text: json ? bytes.toString() : `${bytes.length} bytes of ${res.headers.get('content-type')}`,
  };
}
