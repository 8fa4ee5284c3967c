import type { IncomingMessage, Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { errors, type ScreenEndpoint, type Services } from '@hangar/core';
import type { ServerType } from '@hono/node-server';
import { createNodeWebSocket, type NodeWebSocket } from '@hono/node-ws';
import type { Hono } from 'hono';
import { writeError } from '../errors/write-error.js';
import type { Log } from '../logger.js';
import { scopeOf } from '../trpc/procedures.js';
import { WaitSlots } from '../trpc/wait-slots.js';
import { API_BASE } from './api-base.js';
import { ConsoleTickets } from './console-tickets.js';
import { nodeBindings } from './node-bindings.js';
import type { AppEnv } from './request-context.js';
import { requestHeader } from './request-header.js';
import { type RawWebSocket, ScreenBridge } from './screen-bridge.js';

/** The VM screen's WebSocket, `GET /api/v1/vms/{id}/console/ws?ticket=…`. */
export const CONSOLE_SOCKET_PATH = /^\/api\/v1\/vms\/[^/]+\/console\/ws\/?$/;

/** The WebSocket subprotocol noVNC asks for: raw RFB bytes in binary frames. */
const SUBPROTOCOL = 'binary';
/** A VNC client's messages are small (keys, pointer, clipboard): a larger frame ends the session. */
const MAX_FRAME_BYTES = 4 * 2 ** 20;
/** How long reaching the VM's VNC server may take before the upgrade is refused. */
const CONNECT_TIMEOUT_MS = 5_000;

export interface ConsoleSocketOptions {
  services: Services;
  log: Log;
  /** Aborted at shutdown: open consoles are closed so the server can stop. */
  shutdown: AbortSignal;
  /** How long a ticket opens a console (default 60 s). */
  ticket_ttl_ms?: number;
  /** Console sockets one API key or signed-in user may hold open at once (429 beyond). */
  max_per_principal?: number;
  /** Pings on an open console this often (default PING_INTERVAL_MS). */
  ping_ms?: number;
}

type UpgradeListener = (req: IncomingMessage, socket: Duplex, head: Buffer) => unknown;

/** Answers a refused upgrade on the raw socket (no HTTP response object exists for it). */
const refuse = (socket: Duplex, status: number, text: string) =>
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);

/** A connection to the VM's VNC server, once it is established. */
function reach(endpoint: ScreenEndpoint): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = 'path' in endpoint ? connect({ path: endpoint.path }) : connect({ host: endpoint.host, port: endpoint.port });
    const timer = setTimeout(() => socket.destroy(new Error(`no answer within ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS);
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(errors.hostUnavailable(`Cannot reach the VM's screen: ${err.message}`));
    });
    socket.once('connect', () => {
      clearTimeout(timer);
      // Keys and pointer moves go out at once.
      if (!('path' in endpoint)) socket.setNoDelay(true);
      resolve(socket);
    });
  });
}

/**
 * The VM's screen for the web console: a WebSocket proxied to the VM's VNC server. Browsers
 * cannot put an Authorization header on a WebSocket, so the caller first gets a ticket
 * (`vms.console_ticket`, operators) and opens the path it names; every refusal (no ticket, a
 * used or expired one, one for another VM, a VM no longer running, too many consoles) is an
 * HTTP error answer to the upgrade, before any WebSocket exists.
 */
export class ConsoleSockets {
  readonly tickets: ConsoleTickets;
  private readonly slots: WaitSlots;
  private readonly open = new Set<ScreenBridge>();
  private nodeWs: NodeWebSocket | null = null;

  constructor(private readonly opts: ConsoleSocketOptions) {
    this.tickets = new ConsoleTickets(opts.ticket_ttl_ms ?? 60_000);
    this.slots = new WaitSlots(opts.max_per_principal ?? 8, 'console sockets');
    opts.shutdown.addEventListener('abort', () => {
      for (const b of [...this.open]) b.shutdown();
    });
  }

  /** The WebSocket route, on `app` (before the REST routes, which would answer its path with 404). */
  mount(app: Hono<AppEnv>): void {
    const nodeWs = createNodeWebSocket({ app });
    // createNodeWebSocket takes no options for its WebSocketServer; ws reads them at each upgrade.
    const options = nodeWs.wss.options as { handleProtocols?: (offered: Set<string>) => string | false; maxPayload?: number };
    // ws would agree to whatever the client offers first; only raw binary RFB is spoken here.
    options.handleProtocols = (offered) => (offered.has(SUBPROTOCOL) ? SUBPROTOCOL : false);
    options.maxPayload = MAX_FRAME_BYTES;
    this.nodeWs = nodeWs;

    app.get(`${API_BASE}/vms/:id/console/ws`, async (c, next) => {
      const info = c.get('info');
      info.procedure = 'vms.console_socket';
      const { incoming } = nodeBindings(c);
      let release: (() => void) | undefined;
      let bridge: ScreenBridge | undefined;
      // Listened for before the first wait: a client that hangs up while its screen is looked up
      // or reached must not leave the slot and the VNC connection taken (Node does not replay
      // a `close` that came before anyone listened).
      let gone = false;
      const onGone = () => {
        gone = true;
        bridge?.end();
      };
      incoming?.socket.once('close', onGone);
      // A refusal leaves the connection to the next request (kept alive): its listener goes, or
      // each refused request on one connection would leave one more on its socket.
      const refuse = (err: unknown) => {
        incoming?.socket.off('close', onGone);
        return writeError(c, err);
      };
      try {
        if (this.opts.shutdown.aborted) throw errors.shuttingDown();
        if (requestHeader(c, 'upgrade')?.toLowerCase() !== 'websocket' || !incoming) {
          throw errors.validation('This is a WebSocket: open it with `Upgrade: websocket` at the path vms.console_ticket answers', [
            { path: '(upgrade)', message: 'expected websocket' },
          ]);
        }
        const offered = requestHeader(c, 'sec-websocket-protocol');
        if (offered !== undefined && !offered.split(',').some((p) => p.trim() === SUBPROTOCOL)) {
          throw errors.validation(`The VM's screen speaks the \`${SUBPROTOCOL}\` subprotocol only`, [
            { path: '(sec-websocket-protocol)', message: `expected ${SUBPROTOCOL}` },
          ]);
        }
        const ticket = c.req.query('ticket');
        if (!ticket) throw errors.unauthenticated('Missing ticket: ask vms.console_ticket for one and open the path it answers');
        // Used up here, whatever follows: a ticket that leaked is worth one try at most.
        const grant = this.tickets.redeem(ticket);
        if (!grant) throw errors.unauthenticated('Unknown, used or expired console ticket: ask vms.console_ticket for another');
        info.principal = grant.principal;
        if (grant.vm_id !== c.req.param('id')) throw errors.forbidden('This console ticket was issued for another VM');
        // Asked again: the VM may have stopped, or moved, since the ticket was issued.
        const endpoint = await this.opts.services.vms.screen(scopeOf(grant.principal), grant.vm_id);
        release = this.slots.acquire(grant.principal);
        const upstream = await reach(endpoint);
        if (gone || this.opts.shutdown.aborted) {
          upstream.destroy();
          release();
          return refuse(gone ? errors.validation('The client went away', []) : errors.shuttingDown());
        }
        const started = Date.now();
        const done = release;
        bridge = new ScreenBridge(upstream, (why) => {
          done();
          this.open.delete(bridge!);
          this.opts.log.info(
            {
              request_id: info.requestId,
              vm_id: grant.vm_id,
              principal: grant.principal.username,
              ...bridge!.bytes,
              seconds: (Date.now() - started) / 1000,
              why,
            },
            'console closed',
          );
        });
        this.open.add(bridge);
      } catch (err) {
        release?.();
        return refuse(err);
      }
      const session = bridge;
      return nodeWs.upgradeWebSocket(() => ({
        onOpen: (_event, ws) => session.open(ws.raw as RawWebSocket, this.opts.ping_ms),
        onMessage: (event) => session.fromClient(event.data),
        onClose: () => session.end(),
        onError: () => session.end(1011, 'WebSocket error', 'the WebSocket failed'),
      }))(c, next);
    });
  }

  /**
   * Takes the server's upgrade requests: the console's path goes to the WebSocket route; any
   * other upgrade (h2c, a WebSocket elsewhere) is refused, as the server has no other.
   */
  attach(server: ServerType): void {
    const nodeWs = this.nodeWs;
    if (!nodeWs) throw new Error('ConsoleSockets.mount must run before attach');
    let forward: UpgradeListener | undefined;
    // node-ws listens on whatever it is given: here, only for the upgrades let through below.
    nodeWs.injectWebSocket({
      on: (_event: 'upgrade', listener: UpgradeListener) => {
        forward = listener;
      },
    } as unknown as Server);
    (server as Server).on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      // Node leaves an upgrading socket without an error listener: a client resetting it would end the process.
      socket.on('error', () => socket.destroy());
      let path: string;
      try {
        path = new URL(req.url ?? '/', 'http://localhost').pathname;
      } catch {
        return refuse(socket, 400, 'Bad Request');
      }
      if (req.method !== 'GET' || req.headers.upgrade?.toLowerCase() !== 'websocket' || !CONSOLE_SOCKET_PATH.test(path) || !forward) {
        return refuse(socket, 404, 'Not Found');
      }
      Promise.resolve(forward(req, socket, head)).catch((err: unknown) => {
        this.opts.log.error({ err }, 'console socket upgrade failed');
        socket.destroy();
      });
    });
  }
}
