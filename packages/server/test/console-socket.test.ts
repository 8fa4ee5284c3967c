import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import type { Database, DirectBoot } from '@hangar/core';
import { createTestDatabase, qemuProcessesUnder, qemuSkipReason, testGuest } from '@hangar/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type QemuTestServer, startQemuTestServer, startTestServer, type TestServer } from '../src/testing.js';

// The VM's screen: tickets (vms.console_ticket) and the WebSocket they open, proxied to the VM's
// VNC server; the simulated host's is fake-screen.ts, a QEMU host's is QEMU's own.

/** What the tests use of a `ws` WebSocket client. */
interface WsClient {
  readonly protocol: string;
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): void;
  on(event: 'close', listener: (code: number) => void): void;
  send(data: Buffer | string): void;
  close(): void;
}
type WsConstructor = new (
  url: string,
  protocols?: string[],
  options?: { autoPong?: boolean },
) => WsClient & {
  on(event: 'open', listener: () => void): void;
  on(event: 'ping', listener: () => void): void;
  once(event: 'open', listener: () => void): void;
  on(event: 'error', listener: (err: Error) => void): void;
  on(event: 'unexpected-response', listener: (req: { destroy(): void }, res: { statusCode: number }) => void): void;
};
// Node 20 has no WebSocket client: `ws`, as @hono/node-ws (the server's) depends on it.
const WebSocket = createRequire(createRequire(import.meta.url).resolve('@hono/node-ws'))('ws') as WsConstructor;

const TTL_S = 2;
const json = (key: string) => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json' });

/** A socket's incoming bytes: the next `n` of them (binary frames only: a text frame fails the test). */
function reader(ws: WsClient) {
  let got = Buffer.alloc(0);
  let wake = () => {};
  ws.on('message', (data, isBinary) => {
    expect(isBinary).toBe(true);
    got = Buffer.concat([got, data]);
    wake();
  });
  return async (n: number, timeout_ms = 10_000): Promise<Buffer> => {
    const deadline = Date.now() + timeout_ms;
    while (got.length < n) {
      if (Date.now() > deadline) throw new Error(`got ${got.length} of ${n} bytes`);
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 100);
      });
    }
    const out = got.subarray(0, n);
    got = got.subarray(n);
    return out;
  };
}

type Opened = { ws: WsClient; read: ReturnType<typeof reader>; status: 101 } | { ws: null; read: null; status: number };

/** The upgrade: an open socket (read from the start: the banner may come with the upgrade's answer), or the status it was refused with. */
function openSocket(url: string, protocols = ['binary']): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols);
    const read = reader(ws);
    ws.on('open', () => resolve({ ws, read, status: 101 }));
    ws.on('unexpected-response', (req, res) => {
      req.destroy();
      resolve({ ws: null, read: null, status: res.statusCode });
    });
    ws.on('error', reject);
  });
}

const closed = (ws: WsClient) => new Promise<number>((resolve) => ws.on('close', resolve));

describe('the VM screen over a WebSocket (simulated host)', () => {
  let server: TestServer;
  let operator: string;
  let viewer: string;
  let otherOperator: string;
  let running: string;
  let running2: string;
  let stopped: string;
  let headless: string;

  async function keyFor(username: string, role: string, project_id?: string): Promise<string> {
    const user = (await (
      await fetch(`${server.url}/api/v1/users`, {
        method: 'POST',
        headers: json(server.apiKey),
        body: JSON.stringify({ username, role, project_id }),
      })
    ).json()) as { id: string };
    const key = (await (
      await fetch(`${server.url}/api/v1/api-keys`, {
        method: 'POST',
        headers: json(server.apiKey),
        body: JSON.stringify({ name: 'k', user_id: user.id }),
      })
    ).json()) as { key: string };
    return key.key;
  }

  async function vm(key: string, name: string, opts: { start: boolean; vnc_enabled?: boolean }): Promise<string> {
    const res = await fetch(`${server.url}/api/v1/vms?wait=true`, {
      method: 'POST',
      headers: json(key),
      body: JSON.stringify({ name, cpu_cores: 1, memory_mb: 256, disk_gb: 1, ...opts }),
    });
    const body = (await res.json()) as { vm: { id: string; status: string } };
    expect(body.vm.status).toBe(opts.start ? 'running' : 'stopped');
    return body.vm.id;
  }

  const ticketFor = (id: string, key = operator) =>
    fetch(`${server.url}/api/v1/vms/${id}/console-ticket`, { method: 'POST', headers: json(key), body: '{}' });
  const ticket = async (id: string) => {
    const res = await ticketFor(id);
    expect(res.status).toBe(200);
    return (await res.json()) as { ticket: string; path: string; expires_at: string };
  };
  const wsUrl = (path: string) => server.url.replace(/^http/, 'ws') + path;

  beforeAll(async () => {
    server = await startTestServer({
      env: { HANGAR_CONSOLE_TICKET_TTL_S: String(TTL_S), HANGAR_MAX_CONSOLES_PER_PRINCIPAL: '1', HANGAR_CONSOLE_PING_S: '0.3' },
    });
    operator = await keyFor('screen-operator', 'operator');
    viewer = await keyFor('screen-viewer', 'viewer');
    const project = (await (
      await fetch(`${server.url}/api/v1/projects`, {
        method: 'POST',
        headers: json(server.apiKey),
        body: JSON.stringify({ name: 'elsewhere' }),
      })
    ).json()) as { id: string };
    otherOperator = await keyFor('elsewhere-operator', 'operator', project.id);
    [running, running2, stopped, headless] = await Promise.all([
      vm(operator, 'shown', { start: true }),
      vm(operator, 'shown-too', { start: true }),
      vm(operator, 'off', { start: false }),
      vm(operator, 'headless', { start: true, vnc_enabled: false }),
    ]);
  }, 60_000);
  afterAll(() => server?.stop());

  it('gives operators a ticket for a running VM: random, short-lived, and the path to open', async () => {
    const a = await ticket(running);
    const b = await ticket(running);
    expect(a.ticket).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(b.ticket).not.toBe(a.ticket);
    expect(a.path).toBe(`/api/v1/vms/${running}/console/ws?ticket=${a.ticket}`);
    const left = Date.parse(a.expires_at) - Date.now();
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThanOrEqual(TTL_S * 1000);
    // Over tRPC too.
    const trpc = await fetch(`${server.url}/trpc/vms.console_ticket`, {
      method: 'POST',
      headers: json(operator),
      body: JSON.stringify({ id: running }),
    });
    expect(trpc.status).toBe(200);
  });

  it('refuses viewers (403), other projects (404), VMs not running (409) or without a display (409)', async () => {
    const expectRefused = async (res: Response, status: number, code: string) => {
      expect(res.status).toBe(status);
      expect(((await res.json()) as { code: string }).code).toBe(code);
    };
    await expectRefused(await ticketFor(running, viewer), 403, 'FORBIDDEN');
    await expectRefused(await ticketFor(running, otherOperator), 404, 'VM_NOT_FOUND');
    await expectRefused(await ticketFor(stopped), 409, 'INVALID_STATE');
    await expectRefused(await ticketFor(headless), 409, 'INVALID_STATE');
    await expectRefused(await ticketFor('not-a-uuid'), 400, 'VALIDATION');
  });

  it('proxies the VNC stream both ways, and closing the socket ends the VNC connection', async () => {
    const t = await ticket(running);
    const opened = await openSocket(wsUrl(t.path));
    expect(opened.status).toBe(101);
    const ws = opened.ws!;
    expect(ws.protocol).toBe('binary');
    const read = opened.read!;
    expect((await read(12)).toString()).toBe('RFB 003.008\n');
    // The client's version reaches the server, whose answer (one security type, None) comes back.
    ws.send(Buffer.from('RFB 003.008\n'));
    expect([...(await read(2))]).toEqual([1, 1]);
    expect(server.driver.screen.connections).toBe(1);

    // One console at a time for this key (HANGAR_MAX_CONSOLES_PER_PRINCIPAL=1)...
    expect((await openSocket(wsUrl((await ticket(running2)).path))).status).toBe(429);
    const end = closed(ws);
    ws.close();
    await end;
    await expect.poll(() => server.driver.screen.connections).toBe(0);
    // ...whose slot the closed one gave back.
    await expect
      .poll(async () => {
        const next = await openSocket(wsUrl((await ticket(running2)).path));
        next.ws?.close();
        return next.status;
      })
      .toBe(101);
  });

  it('closes the WebSocket on a text frame (RFB is binary)', async () => {
    const { ws } = await openSocket(wsUrl((await ticket(running)).path));
    const end = closed(ws!);
    ws!.send('hello');
    expect(await end).toBe(1003);
  });

  it('refuses the upgrade without a valid ticket: none, garbage, used, for another VM, expired', async () => {
    const base = wsUrl(`/api/v1/vms/${running}/console/ws`);
    expect((await openSocket(base)).status).toBe(401);
    expect((await openSocket(`${base}?ticket=`)).status).toBe(401);
    expect((await openSocket(`${base}?ticket=${'A'.repeat(43)}`)).status).toBe(401);

    const used = await ticket(running);
    const first = await openSocket(wsUrl(used.path));
    expect(first.status).toBe(101);
    const end = closed(first.ws!);
    first.ws!.close();
    await end;
    expect((await openSocket(wsUrl(used.path))).status).toBe(401);

    // A ticket for one VM opens no other (and is used up by trying).
    const mine = await ticket(running);
    expect((await openSocket(wsUrl(`/api/v1/vms/${running2}/console/ws?ticket=${mine.ticket}`))).status).toBe(403);
    expect((await openSocket(wsUrl(mine.path))).status).toBe(401);

    const late = await ticket(running);
    await new Promise((r) => setTimeout(r, TTL_S * 1000 + 200));
    expect((await openSocket(wsUrl(late.path))).status).toBe(401);
  });

  it('refuses what is not a binary WebSocket upgrade, before the ticket is used', async () => {
    const t = await ticket(running);
    expect((await openSocket(wsUrl(t.path), ['base64'])).status).toBe(400);
    const plain = await fetch(server.url + t.path, { headers: json(operator) });
    expect(plain.status).toBe(400);
    // Still good for a real upgrade.
    const ok = await openSocket(wsUrl(t.path));
    expect(ok.status).toBe(101);
    const end = closed(ok.ws!);
    ok.ws!.close();
    await end;
  });

  it('leaves nothing behind on a kept-alive connection for the requests it refuses', async () => {
    // Each refused request used to leave its listener on the connection's socket: twelve on one
    // connection passed Node's warning mark of ten (the server runs in this process).
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let i = 0; i < 12; i++) {
        const status = await new Promise<number>((resolve, reject) => {
          const req = request(`${server.url}/api/v1/vms/${running}/console/ws`, { agent, headers: json(operator) }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode!));
          });
          req.on('error', reject);
          req.end();
        });
        expect(status).toBe(400);
      }
      await new Promise((r) => setTimeout(r, 50));
      expect(warnings.filter((w) => w.includes('MaxListenersExceeded'))).toEqual([]);
    } finally {
      agent.destroy();
      process.off('warning', onWarning);
    }
  });

  it('refuses a ticket once the VM stopped (409), and survives clients that hang up mid-upgrade', async () => {
    const t = await ticket(running2);
    const stop = await fetch(`${server.url}/api/v1/vms/${running2}/force-stop?wait=true`, {
      method: 'POST',
      headers: json(operator),
      body: '{}',
    });
    expect(stop.status).toBe(200);
    expect((await openSocket(wsUrl(t.path))).status).toBe(409);

    // Upgrade requests cut off halfway, and resets, by the dozen.
    const { port } = new URL(server.url);
    await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const t2 = await ticket(running);
        const socket = connect({ host: '127.0.0.1', port: Number(port) });
        socket.on('error', () => {});
        await new Promise((r) => socket.once('connect', r));
        socket.write(
          `GET ${t2.path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${i % 2 ? 'Sec-WebSocket-Protocol: binary\r\n' : ''}\r\n`,
        );
        // Gone while the server checks the ticket and reaches the VM's screen.
        await new Promise((r) => setTimeout(r, i));
        if (i % 2) socket.resetAndDestroy();
        else socket.destroy();
      }),
    );
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    // Every slot those took was given back.
    await expect
      .poll(async () => {
        const next = await openSocket(wsUrl((await ticket(running)).path));
        next.ws?.close();
        return next.status;
      })
      .toBe(101);
  });

  it('ends a console whose browser stops answering pings, and gives its slot back', async () => {
    const ws = new WebSocket(wsUrl((await ticket(running)).path), ['binary'], { autoPong: false });
    await new Promise<void>((r) => ws.once('open', () => r()));
    const pings: number[] = [];
    ws.on('ping', () => pings.push(Date.now()));
    // Pinged every 0.3 s; no pong, so the one after the first ends it.
    expect(await closed(ws)).toBe(1006);
    expect(pings.length).toBeGreaterThanOrEqual(1);
    const next = await openSocket(wsUrl((await ticket(running)).path));
    expect(next.status).toBe(101);
    next.ws?.close();
  });

  it('refuses upgrades anywhere else', async () => {
    expect((await openSocket(wsUrl('/api/v1/vms'))).status).toBe(404);
  });
});

const skip = qemuSkipReason();

describe.skipIf(skip !== null)('the VM screen over a WebSocket (QEMU, TCG)', () => {
  let dataDir: string;
  let database: Database;
  let boot: DirectBoot;
  let server: QemuTestServer | undefined;

  beforeAll(async () => {
    boot = testGuest();
    dataDir = await mkdtemp('/tmp/hq-screen-');
    database = await createTestDatabase();
    server = await startQemuTestServer({ database, dataDir, boot });
  }, 120_000);

  afterAll(async () => {
    if (!dataDir) return;
    try {
      if (server) {
        for (const d of await server.driver.list()) await server.driver.kill(d.ref);
        await server.close();
      }
    } finally {
      await database?.close();
      const left = await qemuProcessesUnder(dataDir);
      for (const pid of left) process.kill(pid, 'SIGKILL');
      await rm(dataDir, { recursive: true, force: true });
      expect(left).toEqual([]);
    }
  }, 60_000);

  it("reaches QEMU's VNC server through the proxy; closing the socket disconnects it", async () => {
    const s = server!;
    const headers = json(s.apiKey);
    const created = await fetch(`${s.url}/api/v1/vms?wait=true`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ name: 'screen', cpu_cores: 1, memory_mb: 256, disk_gb: 1, start: true }),
    });
    const { vm } = (await created.json()) as { vm: { id: string; status: string } };
    expect(vm.status).toBe('running');
    const vncClients = async () => (await s.driver.qmp<{ clients: unknown[] }>(vm.id, 'query-vnc')).clients.length;

    const t = (await (await fetch(`${s.url}/api/v1/vms/${vm.id}/console-ticket`, { method: 'POST', headers, body: '{}' })).json()) as {
      path: string;
    };
    const opened = await openSocket(s.url.replace(/^http/, 'ws') + t.path);
    expect(opened.status).toBe(101);
    const ws = opened.ws!;
    const read = opened.read!;
    expect((await read(12)).toString()).toMatch(/^RFB 003\.00\d\n$/);
    expect(await vncClients()).toBe(1);

    const end = closed(ws);
    ws.close();
    await end;
    await expect.poll(vncClients, { timeout: 10_000 }).toBe(0);
  }, 120_000);
});
