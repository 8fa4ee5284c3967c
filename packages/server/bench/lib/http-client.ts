import { Agent, request } from 'node:http';

/**
 * A lean HTTP/1.1 client for the load a bench drives from its own process: `fetch` spent about
 * 0.7 ms of CPU per create on this 2-core machine (its WHATWG streams and headers), CPU the server
 * under test then lacked; node:http spends about 0.2 ms. The read path's load runs in another
 * process (autocannon) for the same reason.
 */
export class BenchClient {
  private readonly agent: Agent;

  constructor(
    private readonly base: string,
    private readonly headers: Record<string, string>,
    connections: number,
  ) {
    this.agent = new Agent({ keepAlive: true, maxSockets: connections });
  }

  /** POSTs `body` as JSON to `path`; answers the status and the body's text. */
  post(path: string, body: unknown): Promise<{ status: number; text: string }> {
    const payload = Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = request(
        `${this.base}${path}`,
        {
          method: 'POST',
          agent: this.agent,
          headers: { ...this.headers, 'content-type': 'application/json', 'content-length': payload.length },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
