import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { errors, type ImageStore, type Services, Uuid } from '@hangar/core';
import type { Hono } from 'hono';
import type { Authenticator } from '../auth/authenticator.js';
import { writeError } from '../errors/write-error.js';
import type { AppEnv } from './request-context.js';

/** Where the agent protocol's streams live (its calls are tRPC procedures under /trpc/agent.*). */
export const AGENT_BASE = '/agent/v1';

export interface AgentRouteDeps {
  services: Services;
  auth: Authenticator;
  /** The image store this API process reads (shared by all API processes of a fleet). */
  images: ImageStore | null;
}

/**
 * An image's bytes for the agent whose host needs them: only an image an open operation on the
 * agent's own host uses (a VM made from it, an ISO attached); the agent checks them against the
 * sha256 `agent.image` gave it.
 */
export function mountAgentRoutes(app: Hono<AppEnv>, deps: AgentRouteDeps): void {
  app.get(`${AGENT_BASE}/images/:id/content`, async (c) => {
    try {
      c.get('info').procedure = 'agent.image_content';
      const agent = await deps.auth.authenticateAgent(c.req.header('authorization'));
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
}
