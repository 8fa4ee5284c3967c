import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { access, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { AgentOperation, ReportedEnding } from '../domain/agent.js';
import type { ArchiveDisk } from '../domain/archive.js';
import { type DiskFile, DriverError } from '../drivers/driver.js';
import { PRIVATE_FILE_MODE, privateDir } from '../files/private.js';
import type { ImageStore } from '../images/store.js';
import type { Ending } from '../worker/finish.js';
import type { Checkpoint, LocalImage, OperationQueue, Work, WorkOperation } from '../worker/operation-queue.js';
import type { AgentLink } from './link.js';

export interface RemoteQueueOptions {
  link: AgentLink;
  /** The worker's name, part of every lease it holds. */
  owner: string;
  host_id: string;
  /** The agent's image cache: images fetched once per host, checked against their sha256. */
  images: ImageStore;
  /** How long one claim waits for work. */
  claim_wait_ms?: number;
  /** Where an import's disks wait until the driver takes them over. */
  scratch_dir: string;
}

/** An agent's queue: operations claimed from the API by long-poll, reported back to it; images fetched from it. */
export class RemoteQueue implements OperationQueue {
  readonly owner: string;
  private readonly link: AgentLink;
  /** One fetch per image at a time, however many operations need it. */
  private readonly fetching = new Map<string, Promise<void>>();

  constructor(private readonly opts: RemoteQueueOptions) {
    this.owner = opts.owner;
    this.link = opts.link;
  }

  async claim(signal: AbortSignal): Promise<Work | null> {
    const item = await this.link.claim({ worker_id: this.owner, wait_ms: this.opts.claim_wait_ms ?? 25_000 }, signal);
    if (!item) return null;
    return { op: toWorkOperation(item.operation, this.opts.host_id), vm: item.vm };
  }

  async renew(op: WorkOperation): Promise<boolean> {
    return (await this.link.renew({ worker_id: this.owner, operation_id: op.id })).held;
  }

  async finish(op: WorkOperation, ending: Ending): Promise<boolean> {
    const vm = ending.outcome.vm ?? {};
    const report: ReportedEnding = {
      worker_id: this.owner,
      operation_id: op.id,
      result: ending.result,
      ...(ending.error ? { error: ending.error.slice(0, 4000) } : {}),
      outcome: {
        status: ending.outcome.status,
        vm: {
          ...(vm.domain_ref !== undefined ? { domain_ref: vm.domain_ref } : {}),
          ...(vm.vnc_port !== undefined ? { vnc_port: vm.vnc_port } : {}),
          ...(vm.network ? { network: vm.network } : {}),
        },
        ...(ending.outcome.data ? { data: JSON.parse(JSON.stringify(ending.outcome.data)) as ReportedEnding['outcome']['data'] } : {}),
        ...(ending.outcome.message ? { message: ending.outcome.message.slice(0, 2000) } : {}),
      },
    };
    return (await this.link.finish(report)).ended;
  }

  async defer(op: WorkOperation, delay_ms: number, reason: string): Promise<boolean> {
    return (await this.link.defer({ worker_id: this.owner, operation_id: op.id, delay_ms, reason: reason.slice(0, 2000) })).deferred;
  }

  /** Leases are given up by expiring: the API takes the agent's work back once they run out. */
  async release(): Promise<void> {}

  checkpoint(op: WorkOperation, patch: Checkpoint): Promise<void> {
    return this.link.checkpoint({ worker_id: this.owner, operation_id: op.id, ...patch });
  }

  sendArchive(_op: WorkOperation, transfer: string, archive: Readable, signal: AbortSignal): Promise<void> {
    return this.link.sendArchive(transfer, archive, signal);
  }

  /** Each disk into the scratch directory, checked against the size and sha256 the manifest gave. */
  async receiveDisks(op: WorkOperation, transfer: string, disks: ArchiveDisk[], signal: AbortSignal): Promise<DiskFile[]> {
    const dir = join(this.opts.scratch_dir, op.id);
    await privateDir(dir);
    const files: DiskFile[] = [];
    try {
      for (const d of disks) {
        const path = join(dir, basename(d.name));
        const hash = createHash('sha256');
        let size = 0;
        const body = await this.link.receiveDisk(transfer, d.name, signal);
        await pipeline(
          body,
          async function* (source: AsyncIterable<Buffer>) {
            for await (const chunk of source) {
              size += chunk.length;
              if (size > d.size) throw new DriverError('failed', `disk ${d.name} is larger than its manifest says`);
              hash.update(chunk);
              yield chunk;
            }
          },
          createWriteStream(path, { mode: PRIVATE_FILE_MODE }),
          { signal },
        );
        const sha256 = hash.digest('hex');
        if (size !== d.size || sha256 !== d.sha256)
          throw new DriverError('failed', `disk ${d.name} arrived damaged (size or sha256 differs)`);
        files.push({ name: d.name, path, format: d.format, size, release: () => rm(path, { force: true }) });
      }
      return files;
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  async image(op: WorkOperation, imageId: string, signal: AbortSignal): Promise<LocalImage> {
    for (;;) {
      if (signal.aborted) throw new DriverError('aborted', `waiting for image ${imageId} was cancelled`);
      const info = await this.link.image({ worker_id: this.owner, operation_id: op.id, image_id: imageId }, signal);
      if (!info) continue;
      const store = this.opts.images;
      const path = store.pathOf(info.id);
      if (!(await exists(path))) {
        let pending = this.fetching.get(info.id);
        if (!pending) {
          pending = (async () => {
            const body = await this.link.imageContent(info.id, signal);
            await store.ingest(info.id, body, { kind: info.kind, expected_sha256: info.sha256, signal });
          })().finally(() => this.fetching.delete(info.id));
          this.fetching.set(info.id, pending);
        }
        await pending;
      }
      return { id: info.id, path, kind: info.kind, format: info.format };
    }
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

function toWorkOperation(op: AgentOperation, host_id: string): WorkOperation {
  return {
    id: op.id,
    vm_id: op.vm_id,
    project_id: op.project_id,
    host_id,
    action: op.action,
    input: op.input,
    attempts: op.attempts,
    deadline_at: new Date(op.deadline_at),
  };
}
