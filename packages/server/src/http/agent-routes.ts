import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { errors, type ImageStore, type Services, Uuid } from '@hangar/core';
import type { Hono, Context as HonoContext } from 'hono';
import type { Authenticator } from '../auth/authenticator.js';
import { writeError } from '../errors/write-error.js';
import { refuseHead } from './refuse-head.js';
import type { AppEnv } from './request-context.js';
import { requestHeader } from './request-header.js';
import type { TransferHub } from './transfer-hub.js';

/** Where the agent protocol's streams live (its calls are tRPC procedures under /trpc/agent.*). */
export const AGENT_BASE = '/agent/v1';

export interface AgentRouteDeps {
  services: Services;
  auth: Authenticator;
  /** The image store this API process reads (shared by all API processes of a fleet). */
  images: ImageStore | null;
  transfers: TransferHub;
}

/** This process does not hold the transfer: the agent asks the next API process. */
const misdirected = (c: HonoContext<AppEnv>) =>
  c.json({ code: 'NOT_FOUND', message: 'This API process does not hold that transfer; ask another' }, 421);

/**
 * An image's bytes for the agent whose host needs them: only an image an open operation on the
 * agent's own host uses (a VM made from it, an ISO attached); the agent checks them against the
 * sha256 `agent.image` gave it.
 */
export function mountAgentRoutes(app: Hono<AppEnv>, deps: AgentRouteDeps): void {
  app.get(`${AGENT_BASE}/images/:id/content`, refuseHead, async (c) => {
    try {
      c.get('info').procedure = 'agent.image_content';
      const agent = await deps.auth.authenticateAgent(requestHeader(c, 'authorization'));
      const id = Uuid.safeParse(c.req.param('id'));
      if (!id.success || !(await deps.services.agents.mayReadImage(agent, id.data))) throw errors.notFound('Image', c.req.param('id'));
      if (!deps.images) throw errors.hostUnavailable('This API process has no image store');
      const path = deps.images.pathOf(id.data);
      const size = (await stat(path).catch(() => null))?.size;
      if (size === undefined) throw errors.notFound('Image', id.data);
      const file = createReadStream(path);
      // A reader that hangs up mid-file must not take the process down.
      file.on('error', () => {});
      return c.body(Readable.toWeb(file) as ReadableStream, 200, {
        'content-type': 'application/octet-stream',
        'content-length': String(size),
      });
    } catch (err) {
      return writeError(c, err);
    }
  });

  // Whether this process holds a transfer (asked before a body is sent: a stream is sent once).
  app.get(`${AGENT_BASE}/transfers/:id`, async (c) => {
    try {
      const agent = await deps.auth.authenticateAgent(requestHeader(c, 'authorization'));
      return deps.transfers.holds(agent, c.req.param('id')) ? c.json({ held: true }) : misdirected(c);
    } catch (err) {
      return writeError(c, err);
    }
  });

  // An export's archive, built by the agent of the VM's host, passed on to the caller as it comes.
  app.post(`${AGENT_BASE}/transfers/:id/archive`, async (c) => {
    try {
      c.get('info').procedure = 'agent.send_archive';
      const agent = await deps.auth.authenticateAgent(requestHeader(c, 'authorization'));
      const raw = c.req.raw.body;
      if (!raw) throw errors.validation('The request has no body', [{ path: '(body)', message: 'empty' }]);
      const body = Readable.fromWeb(raw as unknown as WebReadableStream<Uint8Array>);
      body.on('error', () => {});
      const taken = deps.transfers.takeArchive(agent, c.req.param('id'), body);
      if (!taken) return misdirected(c);
      await taken;
      return c.body(null, 204);
    } catch (err) {
      return writeError(c, err);
    }
  });

  // One disk of an import, checked here, fetched by the agent of the host the VM was placed on.
  app.get(`${AGENT_BASE}/transfers/:id/disks/:name`, refuseHead, async (c) => {
    try {
      c.get('info').procedure = 'agent.receive_disk';
      const agent = await deps.auth.authenticateAgent(requestHeader(c, 'authorization'));
      const disk = deps.transfers.disk(agent, c.req.param('id'), c.req.param('name'));
      if (!disk) return misdirected(c);
      const file = createReadStream(disk.path);
      file.on('error', () => {});
      return c.body(Readable.toWeb(file) as ReadableStream, 200, {
        'content-type': 'application/octet-stream',
        'content-length': String(disk.size),
      });
    } catch (err) {
      return writeError(c, err);
    }
  });
}
