import type { Readable } from 'node:stream';
import type {
  AgentImage,
  AgentJoinAnswer,
  AgentJoinRequest,
  HostReport,
  ReportedChange,
  ReportedEnding,
  WorkItem,
} from '../domain/agent.js';
import type { HostInventory } from '../domain/host.js';
import type { Checkpoint } from '../worker/operation-queue.js';

/**
 * What an agent needs of the API: the calls of the agent protocol. The server package speaks
 * them over HTTP (`packages/server/src/agent/`); core knows no HTTP.
 */
export interface AgentLink {
  join(request: AgentJoinRequest): Promise<AgentJoinAnswer>;
  hello(request: { driver: string; version: string; inventory: HostInventory }): Promise<void>;
  report(report: HostReport): Promise<{ inventory_wanted: boolean }>;
  domainChanged(change: ReportedChange): Promise<void>;
  /** Long-polls for the next operation on the agent's host. */
  claim(request: { worker_id: string; wait_ms: number }, signal: AbortSignal): Promise<WorkItem | null>;
  renew(request: { worker_id: string; operation_id: string }): Promise<{ held: boolean }>;
  finish(ending: ReportedEnding): Promise<{ ended: boolean }>;
  defer(request: { worker_id: string; operation_id: string; delay_ms: number; reason: string }): Promise<{ deferred: boolean }>;
  checkpoint(request: { worker_id: string; operation_id: string } & Checkpoint): Promise<void>;
  /** What to fetch for an image an operation needs; null while it is still downloading. */
  image(request: { worker_id: string; operation_id: string; image_id: string }, signal: AbortSignal): Promise<AgentImage | null>;
  /** The image's bytes. */
  imageContent(id: string, signal: AbortSignal): Promise<Readable>;
  /** Sends an export's archive to the API process holding the transfer; resolves once it was all taken. */
  sendArchive(transfer: string, archive: Readable, signal: AbortSignal): Promise<void>;
  /** One disk of an import, from the API process holding the transfer. */
  receiveDisk(transfer: string, name: string, signal: AbortSignal): Promise<Readable>;
}
