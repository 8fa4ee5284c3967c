import { request } from 'node:http';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_BODY_BYTES } from '../src/http/body-limit.js';
import { startTestServer, type TestServer } from '../src/testing.js';

// A request's body is read from Node's request by the server itself (not through a fetch
// Request): by its declared length or, sent in chunks with none, by its bytes as they come.

interface Sent {
  status: number;
  body: Record<string, unknown>;
  connection: string | undefined;
}

/** POSTs `chunks` with Transfer-Encoding: chunked (no Content-Length); `hangUp`: goes away after them. */
function sendChunked(url: string, apiKey: string, chunks: (string | Buffer)[], hangUp = false): Promise<Sent | 'hung up'> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text), connection: res.headers.connection }));
      },
    );
    req.on('error', (err) => (hangUp ? resolve('hung up') : reject(err)));
    for (const c of chunks) req.write(c);
    if (hangUp) setTimeout(() => req.destroy(), 100);
    else req.end();
  });
}

describe('request bodies', () => {
  let server: TestServer;
  /** The server's log lines of warnings and worse. */
  const logged: { level: number; msg: string }[] = [];
  beforeAll(async () => {
    const sink = new Writable({
      write(line, _encoding, done) {
        logged.push(JSON.parse(String(line)));
        done();
      },
    });
    server = await startTestServer({ log: pino({ level: 'warn' }, sink) });
  });
  afterAll(() => server?.stop());

  /** How many VMs have this name. */
  const named = async (name: string) => {
    const res = await fetch(`${server.url}/api/v1/vms?name=${name}`, { headers: { authorization: `Bearer ${server.apiKey}` } });
    expect(res.status).toBe(200);
    return ((await res.json()) as { total: number }).total;
  };

  it('sent in chunks without a length, past the limit: 413 on REST and tRPC, nothing made, the connection closed', async () => {
    const piece = 'x'.repeat(64 * 1024);
    const over = Math.ceil(MAX_BODY_BYTES / piece.length) + 1;
    for (const path of ['/api/v1/vms', '/trpc/vms.create']) {
      const sent = await sendChunked(`${server.url}${path}`, server.apiKey, ['{"name":"too-big","x":"', ...Array(over).fill(piece), '"}']);
      expect(sent).toMatchObject({ status: 413, body: { code: 'PAYLOAD_TOO_LARGE' }, connection: 'close' });
    }
    expect(await named('too-big')).toBe(0);
  });

  it('sent in chunks within the limit: read whole, over REST and tRPC', async () => {
    const spec = (name: string) => JSON.stringify({ name, cpu_cores: 1, memory_mb: 256, disk_gb: 1 });
    const rest = await sendChunked(`${server.url}/api/v1/vms`, server.apiKey, [
      spec('chunked-rest').slice(0, 7),
      spec('chunked-rest').slice(7),
    ]);
    expect(rest).toMatchObject({ status: 201, body: { vm: { name: 'chunked-rest' } } });
    const trpc = await sendChunked(`${server.url}/trpc/vms.create`, server.apiKey, [
      spec('chunked-trpc').slice(0, 9),
      spec('chunked-trpc').slice(9),
    ]);
    expect(trpc).toMatchObject({ status: 200, body: { result: { data: { vm: { name: 'chunked-trpc' } } } } });
  });

  it('read as a fetch body is read: UTF-8, a leading byte-order mark dropped', async () => {
    const body = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      Buffer.from(JSON.stringify({ name: 'bom-name', labels: { owner: 'zoë' }, cpu_cores: 1, memory_mb: 256, disk_gb: 1 })),
    ]);
    const res = await fetch(`${server.url}/api/v1/vms`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' },
      body,
    });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ vm: { name: 'bom-name', labels: { owner: 'zoë' } } });
  });

  it('from a client that goes away before its end: nothing made, and the server goes on', async () => {
    const sent = await sendChunked(`${server.url}/api/v1/vms`, server.apiKey, ['{"name":"half-sent",'], true);
    expect(sent).toBe('hung up');
    // A client's going is no server fault: nothing is logged as one.
    await new Promise((r) => setTimeout(r, 100));
    expect(logged.filter((l) => l.level >= 50)).toEqual([]);
    expect(await named('half-sent')).toBe(0);
  });
});
