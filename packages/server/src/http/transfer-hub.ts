import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { AgentPrincipal, ArchiveRelay, DiskFile, TransferParty } from '@hangar/core';

interface ExportWait {
  party: TransferParty;
  /** Called with the agent's upload: hands it to the caller, resolves once it has all passed. */
  deliver(body: Readable): Promise<void>;
}

/**
 * The transfers this API process holds: exports whose caller waits for the archive an agent
 * will send, and imports whose checked disks an agent will fetch. In memory: a transfer lives
 * as long as its caller's request on this process. An agent asking another process is told
 * 421 and tries the next.
 */
export class TransferHub implements ArchiveRelay {
  private readonly exports = new Map<string, ExportWait>();
  private readonly imports = new Map<string, { party: TransferParty; disks: Map<string, DiskFile> }>();

  awaitArchive(party: TransferParty, signal: AbortSignal): Promise<Readable> {
    return new Promise<Readable>((resolve, reject) => {
      const gone = () => {
        this.exports.delete(party.id);
        reject(signal.reason instanceof Error ? signal.reason : new Error('no agent came'));
      };
      if (signal.aborted) return gone();
      signal.addEventListener('abort', gone, { once: true });
      this.exports.set(party.id, {
        party,
        deliver: async (body) => {
          signal.removeEventListener('abort', gone);
          this.exports.delete(party.id);
          // One chunk in flight at a time: the agent's upload moves as fast as the caller reads.
          const out = new PassThrough({ highWaterMark: 1024 * 1024 });
          resolve(out);
          await pipeline(body, out);
        },
      });
    });
  }

  offerDisks(party: TransferParty, disks: DiskFile[]): () => void {
    this.imports.set(party.id, { party, disks: new Map(disks.map((d) => [d.name, d])) });
    return () => this.imports.delete(party.id);
  }

  /** Whether this process holds the transfer, for this agent's host. */
  holds(agent: AgentPrincipal, id: string): boolean {
    const t = this.exports.get(id) ?? this.imports.get(id);
    return !!t && t.party.host_id === agent.host_id;
  }

  /** The agent's upload of an export's archive; null when this process does not hold the transfer. */
  takeArchive(agent: AgentPrincipal, id: string, body: Readable): Promise<void> | null {
    const wait = this.exports.get(id);
    if (!wait || wait.party.host_id !== agent.host_id) return null;
    return wait.deliver(body);
  }

  /** One disk of an import offered to this agent's host; null when this process does not hold it. */
  disk(agent: AgentPrincipal, id: string, name: string): DiskFile | null {
    const t = this.imports.get(id);
    if (!t || t.party.host_id !== agent.host_id) return null;
    return t.disks.get(name) ?? null;
  }
}
