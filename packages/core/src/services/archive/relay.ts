import type { Readable } from 'node:stream';
import type { DiskFile } from '../../drivers/driver.js';

/** Where a transfer's bytes meet: one API process and the agent of the VM's host. */
export interface TransferParty {
  /** The transfer: chosen by the API process, carried in the operation's input. */
  id: string;
  /** Only this host's agent may take part. */
  host_id: string;
}

/**
 * How an API process exchanges archives with an agent, when the VM's host is not its own: the
 * agent, running the operation, connects to the API process holding the caller's request (the
 * transport lives in the server package; core knows no HTTP).
 */
export interface ArchiveRelay {
  /** Waits for the agent to send the archive of an export; the stream is the agent's upload. */
  awaitArchive(party: TransferParty, signal: AbortSignal): Promise<Readable>;
  /** Lets the agent fetch an import's checked disks until the returned function withdraws them. */
  offerDisks(party: TransferParty, disks: DiskFile[]): () => void;
}
