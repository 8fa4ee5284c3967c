import type { IncomingMessage } from 'node:http';
import { errors } from '@hangar/core';
import type { Context as HonoContext, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { writeError } from '../errors/write-error.js';
import { nodeBindings } from './node-bindings.js';
import type { AppEnv } from './request-context.js';

/** The largest request body read into memory (an upload streams through its own routes). */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;

const tooLarge = () => errors.payloadTooLarge(`Request body larger than ${MAX_BODY_BYTES} bytes`, { limit_bytes: MAX_BODY_BYTES });

class TooLarge extends Error {}

/** A request that did not come through Node's server is limited by Hono's own. */
const fallback = bodyLimit({ maxSize: MAX_BODY_BYTES, onError: (c) => writeError(c, tooLarge()) });

/** Node's request with the body read (the name @hono/node-server looks for). */
type ReadRequest = IncomingMessage & { rawBody?: Buffer };

/**
 * Reads a request's body, refusing one over `MAX_BODY_BYTES` with a 413 (by its Content-Length
 * before reading, by its bytes as they come when it has none). A GET or HEAD has no body.
 *
 * On Node's server the body is read from Node's request and handed to Hono as read: asking Hono
 * for it made @hono/node-server build a fetch `Request` (with an AbortSignal and a web stream
 * over Node's) for every POST first. What reads it later gets it from Hono's body cache
 * (`c.req.text()`, `c.req.json()`), and a fetch `Request` built after all (tRPC's adapter) from
 * `rawBody`, which @hono/node-server takes for the body when it is there.
 */
export const limitBody: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
  const { outgoing } = nodeBindings(c);
  const incoming: ReadRequest | undefined = nodeBindings(c).incoming;
  if (!incoming) return fallback(c, next);
  // Read already (a route's own limit behind the API's): the cache has it.
  if (incoming.rawBody) return next();
  let body: Buffer;
  try {
    body = await readAll(incoming, MAX_BODY_BYTES);
  } catch (err) {
    if (!(err instanceof TooLarge)) {
      // The client went away mid-body: nobody reads this answer, and it is no server fault
      // (thrown, it would be logged as an unhandled error, once for every such client).
      return writeError(c, errors.validation('The request body ended before it was whole', [{ path: '(body)', message: 'incomplete' }]));
    }
    // The rest of it is not read: the connection closes after the answer.
    if (outgoing && !outgoing.headersSent) outgoing.setHeader('connection', 'close');
    return writeError(c, tooLarge());
  }
  incoming.rawBody = body;
  cacheBody(c, body);
  return next();
};

/**
 * Hands the body to Hono's body cache, each form made only when asked for (tRPC's adapter reads
 * `rawBody` and asks for none). The bytes come first: Hono makes a form not cached (a blob, form
 * data) from the first key, and made from the text, bytes that are not UTF-8 would come back changed.
 */
function cacheBody(c: HonoContext<AppEnv>, body: Buffer): void {
  const lazily = <T>(make: () => T): PropertyDescriptor => {
    let made: Promise<T> | undefined;
    return { enumerable: true, configurable: true, get: () => (made ??= Promise.resolve(make())) };
  };
  Object.defineProperties(c.req.bodyCache, {
    // A buffer of its own is handed over as it is; a piece of a larger one is copied out.
    arrayBuffer: lazily(() =>
      body.byteOffset === 0 && body.byteLength === body.buffer.byteLength
        ? body.buffer
        : body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength),
    ),
    // As a fetch body's text() decodes it: UTF-8, a leading byte-order mark dropped.
    text: lazily(() => new TextDecoder().decode(body)),
  });
}

/** The whole body, or TooLarge past `max` bytes (declared or sent); rejects when the client goes before its end. */
function readAll(incoming: IncomingMessage, max: number): Promise<Buffer> {
  const declared = Number(incoming.headers['content-length']);
  if (declared > max) return Promise.reject(new TooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (err?: Error) => {
      incoming.off('data', onData);
      incoming.off('end', onEnd);
      incoming.off('error', done);
      incoming.off('close', onClose);
      if (err) reject(err);
      else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        incoming.pause();
        done(new TooLarge());
      } else chunks.push(chunk);
    };
    const onEnd = () => done();
    const onClose = () => done(new Error('the client closed the connection'));
    incoming.on('data', onData);
    incoming.once('end', onEnd);
    incoming.once('error', done);
    incoming.once('close', onClose);
  });
}
