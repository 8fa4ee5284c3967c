import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { AgentLink } from '@hangar/core';
import { createTRPCClient, httpLink, type TRPCClient, TRPCClientError } from '@trpc/client';
import { AGENT_BASE } from '../http/agent-routes.js';
import type { AppRouter } from '../router.js';

export interface HttpAgentLinkOptions {
  /** The API processes, tried in turn: a call that cannot reach one goes to the next. */
  urls: string[];
  /** The agent's credentials, once it has them. */
  credential?: string;
  onFailover?: (from: string, to: string, err: unknown) => void;
}

/** Answers that say "this API process cannot serve you now", not "your call is wrong": another process may. */
const FAILOVER_STATUSES = new Set([502, 503, 504]);

function shouldFailOver(err: unknown): boolean {
  if (err instanceof TRPCClientError) {
    const status = (err.data as { httpStatus?: number } | undefined)?.httpStatus;
    // No status: the request never got an answer (connection refused or reset).
    return status === undefined || FAILOVER_STATUSES.has(status);
  }
  return err instanceof TypeError; // fetch's network failure
}

/**
 * The agent protocol over HTTP: tRPC calls (`agent.*`) and the image content route, with
 * failover across the API processes it was given. The last one that answered is used first.
 */
export class HttpAgentLink implements AgentLink {
  private credential: string | undefined;
  private current = 0;
  private readonly clients: TRPCClient<AppRouter>[];

  constructor(private readonly opts: HttpAgentLinkOptions) {
    this.credential = opts.credential;
    this.clients = opts.urls.map((base) =>
      createTRPCClient<AppRouter>({
        links: [httpLink({ url: `${base}/trpc`, headers: () => (this.credential ? { authorization: `Bearer ${this.credential}` } : {}) })],
      }),
    );
  }

  setCredential(credential: string): void {
    this.credential = credential;
  }

  /** Runs `call` against the current API process, moving on to the next ones while they cannot be reached. */
  private async failover<T>(call: (client: TRPCClient<AppRouter>, base: string) => Promise<T>, signal?: AbortSignal): Promise<T> {
    let last: unknown;
    for (let tried = 0; tried < this.clients.length; tried++) {
      const i = (this.current + tried) % this.clients.length;
      try {
        const r = await call(this.clients[i]!, this.opts.urls[i]!);
        this.current = i;
        return r;
      } catch (err) {
        if (signal?.aborted || !shouldFailOver(err)) throw err;
        last = err;
        const next = (i + 1) % this.clients.length;
        if (this.clients.length > 1) this.opts.onFailover?.(this.opts.urls[i]!, this.opts.urls[next]!, err);
      }
    }
    throw last;
  }

  join: AgentLink['join'] = (request) => this.failover((c) => c.agent.join.mutate(request));
  hello: AgentLink['hello'] = async (request) => {
    await this.failover((c) => c.agent.hello.mutate(request));
  };
  report: AgentLink['report'] = (report) => this.failover((c) => c.agent.report.mutate(report));
  domainChanged: AgentLink['domainChanged'] = async (change) => {
    await this.failover((c) => c.agent.domain_changed.mutate(change));
  };
  claim: AgentLink['claim'] = (request, signal) => this.failover((c) => c.agent.claim.mutate(request, { signal }), signal);
  renew: AgentLink['renew'] = (request) => this.failover((c) => c.agent.renew.mutate(request));
  finish: AgentLink['finish'] = (ending) => this.failover((c) => c.agent.finish.mutate(ending));
  defer: AgentLink['defer'] = (request) => this.failover((c) => c.agent.defer.mutate(request));
  checkpoint: AgentLink['checkpoint'] = async (request) => {
    await this.failover((c) =>
      c.agent.checkpoint.mutate({
        worker_id: request.worker_id,
        operation_id: request.operation_id,
        domain_ref: request.domain_ref,
        ...(request.vnc_port !== undefined ? { vnc_port: request.vnc_port } : {}),
        ...(request.network ? { network: request.network } : {}),
      }),
    );
  };
  image: AgentLink['image'] = (request, signal) => this.failover((c) => c.agent.image.mutate(request, { signal }), signal);

  imageContent: AgentLink['imageContent'] = (id, signal) =>
    this.failover(async (_c, base) => {
      const res = await fetch(`${base}${AGENT_BASE}/images/${encodeURIComponent(id)}/content`, {
        headers: this.credential ? { authorization: `Bearer ${this.credential}` } : {},
        signal,
      });
      if (!res.ok || !res.body) {
        const text = await res.text().catch(() => '');
        const err = new Error(`fetching image ${id} from ${base}: HTTP ${res.status} ${text.slice(0, 200)}`);
        // Another API process may hold it (a 503 here is "no image store").
        if (FAILOVER_STATUSES.has(res.status)) throw new TypeError(err.message);
        throw err;
      }
      const body = Readable.fromWeb(res.body as unknown as WebReadableStream<Uint8Array>);
      body.on('error', () => {});
      return body;
    }, signal);

  /** Finds the API process holding a transfer (its caller's request is there): a stream can be sent only once. */
  private async holder(transfer: string, signal: AbortSignal): Promise<string> {
    for (const base of this.opts.urls) {
      const res = await fetch(`${base}${AGENT_BASE}/transfers/${encodeURIComponent(transfer)}`, {
        headers: this.auth(),
        signal,
      }).catch(() => null);
      if (res?.ok) return base;
      await res?.body?.cancel();
    }
    throw new Error(`no API process holds transfer ${transfer} (its caller has gone?)`);
  }

  private auth(): Record<string, string> {
    return this.credential ? { authorization: `Bearer ${this.credential}` } : {};
  }

  sendArchive: AgentLink['sendArchive'] = async (transfer, archive, signal) => {
    const base = await this.holder(transfer, signal);
    const res = await fetch(`${base}${AGENT_BASE}/transfers/${encodeURIComponent(transfer)}/archive`, {
      method: 'POST',
      headers: { ...this.auth(), 'content-type': 'application/octet-stream' },
      body: Readable.toWeb(archive) as unknown as ReadableStream,
      duplex: 'half',
      signal,
    } as RequestInit);
    if (!res.ok) throw new Error(`sending the archive to ${base}: HTTP ${res.status} ${(await res.text().catch(() => '')).slice(0, 200)}`);
  };

  receiveDisk: AgentLink['receiveDisk'] = async (transfer, name, signal) => {
    const base = await this.holder(transfer, signal);
    const res = await fetch(`${base}${AGENT_BASE}/transfers/${encodeURIComponent(transfer)}/disks/${encodeURIComponent(name)}`, {
      headers: this.auth(),
      signal,
    });
    if (!res.ok || !res.body) throw new Error(`fetching disk ${name} from ${base}: HTTP ${res.status}`);
    const body = Readable.fromWeb(res.body as unknown as WebReadableStream<Uint8Array>);
    body.on('error', () => {});
    return body;
  };
}
