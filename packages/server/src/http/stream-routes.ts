import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { errors, ImageKind, type Principal, type Role, type Scope, type Services, type VmArchives } from '@hangar/core';
import busboy from 'busboy';
import type { Hono, Context as HonoContext } from 'hono';
import type { Authenticator } from '../auth/authenticator.js';
import { writeError } from '../errors/write-error.js';
import { requireRole, scopeOf } from '../trpc/procedures.js';
import { API_BASE } from './api-base.js';
import { refuseHead } from './refuse-head.js';
import type { AppEnv } from './request-context.js';
import { requestHeader } from './request-header.js';

/**
 * The routes whose bodies are streams, not JSON: VM export and import, and image upload.
 * They cannot be tRPC procedures (a procedure's input and output are values), so they are
 * plain HTTP handlers over the same services, authentication and error shape, and the OpenAPI
 * document describes them by hand (STREAM_ROUTES_OPENAPI).
 */
export const STREAM_PATHS = [/^\/api\/v1\/vms\/[^/]+\/export\/?$/, /^\/api\/v1\/vms\/import\/?$/, /^\/api\/v1\/images\/upload\/?$/];

export interface StreamDeps {
  services: Services;
  auth: Authenticator;
  archives: VmArchives | null;
}

async function authorize(c: HonoContext<AppEnv>, deps: StreamDeps, role: Role): Promise<Scope> {
  const principal: Principal = await deps.auth.authenticate(requestHeader(c, 'authorization'));
  c.get('info').principal = principal;
  requireRole(principal, role);
  return scopeOf(principal);
}

function bodyStream(c: HonoContext<AppEnv>): Readable {
  const body = c.req.raw.body;
  if (!body) throw errors.validation('The request has no body', [{ path: '(body)', message: 'empty' }]);
  const stream = Readable.fromWeb(body as unknown as WebReadableStream<Uint8Array>);
  // Its reader hears its errors (a client hanging up); one nobody reads yet must not end the process.
  stream.on('error', () => {});
  return stream;
}

/** Past this, a refused upload's connection is closed rather than read to its end. */
const MAX_DISCARD_BYTES = 64 * 2 ** 20;

/**
 * Reads what is left of a refused upload and drops it, so the client, still sending, reads the
 * answer instead of a reset connection; a sender of more than MAX_DISCARD_BYTES is cut off.
 */
function discardRest(body: Readable): void {
  let bytes = 0;
  body.unpipe();
  body.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    if (bytes > MAX_DISCARD_BYTES) body.destroy();
  });
  body.resume();
}

/** The archive from a raw tar/gzip body, or from the `file` field of a multipart form. */
function archiveBody(c: HonoContext<AppEnv>, source: Readable): Promise<Readable> {
  const type = requestHeader(c, 'content-type') ?? '';
  if (!type.startsWith('multipart/form-data')) return Promise.resolve(source);
  let form: busboy.Busboy;
  try {
    form = busboy({ headers: { 'content-type': type }, limits: { files: 1, fields: 10 } });
  } catch (err) {
    // A form without a boundary, or with a broken Content-Type.
    throw errors.validation(`Malformed multipart body: ${(err as Error).message}`, [
      { path: '(content-type)', message: 'not a multipart form' },
    ]);
  }
  return new Promise((resolve, reject) => {
    let found = false;
    form.on('file', (name, file) => {
      // A truncated form errors the file stream; its reader hears it, an unread one must not crash us.
      file.on('error', () => {});
      if (name !== 'file' || found) return file.resume();
      found = true;
      resolve(file);
    });
    form.on('error', (err) => reject(errors.validation(`Malformed multipart body: ${(err as Error).message}`)));
    form.on('close', () => {
      if (!found)
        reject(errors.validation('A multipart import needs the archive in a field named "file"', [{ path: 'file', message: 'missing' }]));
    });
    source.on('error', (err) => form.destroy(err));
    source.pipe(form);
  });
}

const needArchives = (deps: StreamDeps): VmArchives => {
  if (!deps.archives) throw errors.hostUnavailable('This server runs no worker, so it cannot read or write VM disks');
  return deps.archives;
};

export function mountStreamRoutes(app: Hono<AppEnv>, deps: StreamDeps): void {
  app.get(`${API_BASE}/vms/:id/export`, refuseHead, async (c) => {
    try {
      const scope = await authorize(c, deps, 'operator');
      c.get('info').procedure = 'vms.export';
      const compress = c.req.query('compress');
      if (compress !== undefined && compress !== 'gzip' && compress !== 'none') {
        throw errors.validation('compress must be gzip or none', [{ path: 'compress', message: 'expected gzip or none' }]);
      }
      const exp = await needArchives(deps).exportVm(scope, c.req.param('id'), { gzip: compress === 'gzip' });
      return new Response(Readable.toWeb(exp.stream) as unknown as ReadableStream, {
        status: 200,
        headers: {
          'content-type': exp.content_type,
          'content-disposition': `attachment; filename="${exp.filename}"`,
          'x-operation-id': exp.operation.id,
          'x-request-id': c.get('info').requestId,
        },
      });
    } catch (err) {
      return writeError(c, err);
    }
  });

  app.post(`${API_BASE}/vms/import`, async (c) => {
    let source: Readable | undefined;
    try {
      const scope = await authorize(c, deps, 'operator');
      c.get('info').procedure = 'vms.import';
      source = bodyStream(c);
      const vm = await needArchives(deps).importVm(scope, await archiveBody(c, source), {
        name: c.req.query('name'),
        signal: c.req.raw.signal,
      });
      return c.json(vm, 201, { location: `${API_BASE}/vms/${vm.id}` });
    } catch (err) {
      if (source) discardRest(source);
      return writeError(c, err);
    }
  });

  app.post(`${API_BASE}/images/upload`, async (c) => {
    try {
      const scope = await authorize(c, deps, 'operator');
      c.get('info').procedure = 'images.upload';
      const kind = ImageKind.safeParse(c.req.query('kind') ?? 'iso');
      if (!kind.success) throw errors.validation('kind must be iso or disk', [{ path: 'kind', message: 'expected iso or disk' }]);
      const image = await deps.services.images.upload(scope, { name: c.req.query('name') ?? '', kind: kind.data }, bodyStream(c));
      return c.json(image, 201, { location: `${API_BASE}/images/${image.id}` });
    } catch (err) {
      return writeError(c, err);
    }
  });
}
