import { fromRestResponse, unreachable } from './errors.js';
import type { Vm } from './types.js';

/** What a Node `Writable` (a file, a socket, process.stdout) offers; typed here so the SDK needs no Node types. */
export interface WritableLike {
  write(chunk: Uint8Array, callback?: (err?: Error | null) => void): boolean;
  end(callback?: () => void): unknown;
  // biome-ignore lint/suspicious/noExplicitAny: the shape of Node's own listener type, which a stream must accept
  once(event: 'drain' | 'error' | 'finish', listener: (...args: any[]) => void): unknown;
}

export interface ExportOptions {
  /** Write the archive to this file (Node). */
  path?: string;
  /** Or to this stream: a web WritableStream or a Node Writable. */
  stream?: WritableStream<Uint8Array> | WritableLike;
  /** `gzip` for a tar.gz. */
  compress?: 'gzip';
  signal?: AbortSignal;
}

export interface ImportOptions {
  /** The new VM's name (default: the name in the archive). */
  name?: string;
  signal?: AbortSignal;
}

/** The REST API's base path; streams (exports, imports, uploads) are REST routes. */
export const REST_BASE = '/api/v1';

/**
 * How the client sends a stream's request: the same base URL, credentials, timeouts, abort and
 * retry policy as its calls (`retry`: `if-not-processed` for a request that may be repeated
 * when the server said it did not act, `never` for a body that cannot be sent twice). Resolves
 * with a successful response, or throws the typed error.
 */
export interface Transport {
  request(path: string, init: StreamRequest, opts: { signal?: AbortSignal; retry: 'if-not-processed' | 'never' }): Promise<Response>;
}

/** A request whose body is made afresh for each try (a file opened again). */
export type StreamRequest = Omit<RequestInit, 'body' | 'signal'> & { body?: () => BodyInit };

/** One HTTP request of a stream, as `Transport.request` sends it (each try). */
export async function sendRequest(
  base: { baseUrl: string; headers(): Record<string, string>; fetch: typeof fetch },
  path: string,
  init: StreamRequest,
  signal: AbortSignal,
): Promise<Response> {
  let res: Response;
  try {
    res = await base.fetch(`${base.baseUrl}${REST_BASE}${path}`, {
      ...init,
      body: init.body?.(),
      signal,
      headers: { ...base.headers(), ...(init.headers as Record<string, string>) },
    });
  } catch (err) {
    if ((err as Error).name === 'AbortError' || (err as Error).name === 'TimeoutError') throw err;
    throw unreachable(base.baseUrl, (err as Error).message, err);
  }
  if (!res.ok) throw await fromRestResponse(res);
  return res;
}

async function writeTo(body: ReadableStream<Uint8Array>, target: WritableStream<Uint8Array> | WritableLike): Promise<void> {
  if ('getWriter' in target) return body.pipeTo(target);
  const reader = body.getReader();
  const failed = new Promise<never>((_, reject) => target.once('error', reject));
  failed.catch(() => {});
  for (;;) {
    const { done, value } = await Promise.race([reader.read(), failed]);
    if (done) break;
    if (!target.write(value)) await Promise.race([new Promise((r) => target.once('drain', r)), failed]);
  }
  await Promise.race([new Promise<void>((r) => target.end(() => r())), failed]);
}

/** Streams a VM's export to a file or stream; resolves with the bytes written once the server has sent it all. */
export async function exportVm(t: Transport, id: string, opts: ExportOptions): Promise<{ bytes: number; operation_id: string | null }> {
  if (!opts.path === !opts.stream) throw new TypeError('exportVm needs exactly one of `path` and `stream`');
  const query = opts.compress === 'gzip' ? '?compress=gzip' : '';
  // Beginning an export begins an operation: repeated only when the server said it did not act.
  const res = await t.request(`/vms/${encodeURIComponent(id)}/export${query}`, {}, { signal: opts.signal, retry: 'if-not-processed' });
  let bytes = 0;
  const counted = res.body!.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, ctl) {
        bytes += chunk.length;
        ctl.enqueue(chunk);
      },
    }),
  );
  if (opts.path) {
    const { createWriteStream } = await import('node:fs');
    await writeTo(counted, createWriteStream(opts.path) as unknown as WritableLike);
  } else {
    await writeTo(counted, opts.stream!);
  }
  return { bytes, operation_id: res.headers.get('x-operation-id') };
}

/** Imports an archive (tar or tar.gz) from a file path or a stream; returns the new VM, stopped. */
export async function importVm(
  t: Transport,
  source: string | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
  opts: ImportOptions,
): Promise<Vm> {
  const query = opts.name ? `?name=${encodeURIComponent(opts.name)}` : '';
  return upload<Vm>(t, `/vms/import${query}`, 'application/x-tar', source, opts.signal);
}

type Source = string | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;

/**
 * POSTs a file (by path) or a stream as the raw body, streamed; answers the JSON reply. A file
 * is opened again for each try, so it may be retried (when the server said it did not act); a
 * stream is read once and never retried.
 */
async function upload<T>(t: Transport, path: string, contentType: string, source: Source, signal?: AbortSignal): Promise<T> {
  const { createReadStream } = typeof source === 'string' ? await import('node:fs') : { createReadStream: null };
  const res = await t.request(
    path,
    {
      method: 'POST',
      headers: { 'content-type': contentType },
      body: () => (typeof source === 'string' ? createReadStream!(source) : source) as unknown as BodyInit,
      // A streamed request body (Node's fetch requires saying so).
      ...({ duplex: 'half' } as object),
    },
    { signal, retry: typeof source === 'string' ? 'if-not-processed' : 'never' },
  );
  return (await res.json()) as T;
}

/** Uploads an image's bytes (a file path or a stream) into the image store; returns it, `ready`. */
export async function uploadImage<I>(
  t: Transport,
  source: string | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
  opts: { name: string; kind?: 'iso' | 'disk'; signal?: AbortSignal },
): Promise<I> {
  const query = `?name=${encodeURIComponent(opts.name)}&kind=${opts.kind ?? 'iso'}`;
  return upload<I>(t, `/images/upload${query}`, 'application/octet-stream', source, opts.signal);
}
