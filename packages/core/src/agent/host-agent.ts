import { randomUUID } from 'node:crypto';
import type { HostReport } from '../domain/agent.js';
import type { HypervisorDriver } from '../drivers/driver.js';
import type { ImageStore } from '../images/store.js';
import { consoleLogger, type Logger } from '../worker/logger.js';
import { INVENTORY_REFRESH_MS } from '../worker/maintenance/drift.js';
import { Worker } from '../worker/worker.js';
import type { AgentLink } from './link.js';
import { RemoteQueue } from './remote-queue.js';

export interface HostAgentOptions {
  link: AgentLink;
  driver: HypervisorDriver;
  /** The host the agent's credentials are bound to. */
  host_id: string;
  /** The agent's version, shown on its host. */
  version: string;
  /** Where images fetched for this host are kept. */
  images: ImageStore;
  /** Where an import's disks wait until the driver takes them over. */
  scratch_dir: string;
  /** How often the hypervisor is listed and reported (the heartbeat). */
  report_interval_ms?: number;
  /** Operations run at once. */
  concurrency?: number;
  /** How long one claim waits for work. */
  claim_wait_ms?: number;
  /** Pause before trying the API again after a failed call. */
  retry_ms?: number;
  logger?: Logger;
}

/**
 * One hypervisor host's agent: it says what the host has, runs the host's operations (claimed
 * from the API by long-poll), lists the host's domains as its heartbeat and reports what the
 * hypervisor notices by itself. It holds no database: everything goes through `link`.
 */
export class HostAgent {
  readonly worker: Worker;
  private readonly log: Logger;
  private timer: NodeJS.Timeout | null = null;
  private unwatch: (() => void) | null = null;
  private reporting: Promise<void> = Promise.resolve();
  private sendInventory = true;
  /** The inventory the API last took (JSON): a heartbeat sends it again only when it changed. */
  private sentInventory: string | null = null;
  private sentInventoryAt = Date.now();

  constructor(private readonly opts: HostAgentOptions) {
    this.log = opts.logger ?? consoleLogger;
    const host = new Map([[opts.host_id, opts.driver]]);
    this.worker = new Worker({
      id: `w-${randomUUID().slice(0, 8)}`,
      drivers: host,
      queue: (owner) =>
        new RemoteQueue({
          link: opts.link,
          owner,
          host_id: opts.host_id,
          images: opts.images,
          claim_wait_ms: opts.claim_wait_ms,
          scratch_dir: opts.scratch_dir,
        }),
      concurrency: opts.concurrency,
      // The claim itself waits for work; after an empty one, ask again at once.
      poll_ms: 0,
      logger: this.log,
    });
  }

  /** Says hello (what the host has), then runs: operations, heartbeats, the hypervisor's events. */
  async start(): Promise<void> {
    const inventory = await this.opts.driver.inventory({ signal: AbortSignal.timeout(30_000) });
    await this.opts.link.hello({ driver: this.opts.driver.kind, version: this.opts.version, inventory });
    this.sentInventory = JSON.stringify(inventory);
    this.sendInventory = false;
    this.unwatch =
      this.opts.driver.watch?.((change) => {
        // A change of a domain an operation here is acting on is that operation's doing (the API
        // would leave it alone): not sent, one request saved per event of every operation.
        if (this.worker.inHand.has(this.opts.host_id, change.ref)) return;
        this.opts.link
          .domainChanged({
            ref: change.ref,
            state: change.state,
            reason: change.reason.slice(0, 2000),
            ...(change.event ? { event: change.event } : {}),
            observed_at: new Date().toISOString(),
          })
          .catch((err: unknown) => this.log.warn({ err }, 'reporting a domain event failed (the next heartbeat settles it)'));
      }) ?? null;
    this.worker.start();
    await this.reportOnce();
    this.timer = setInterval(() => {
      this.reporting = this.reporting.then(() => this.reportOnce());
    }, this.opts.report_interval_ms ?? 10_000);
    this.timer.unref();
  }

  /** Lists the hypervisor and reports it: the heartbeat. A failure is logged; the next one tries again. */
  async reportOnce(): Promise<void> {
    const asked_at = new Date().toISOString();
    let report: HostReport;
    try {
      const domains = await this.opts.driver.list({ signal: AbortSignal.timeout(10_000) });
      report = { asked_at, domains: domains.map((d) => ({ ref: d.ref, vm_id: d.vm_id, state: d.state })), unavailable: null };
    } catch (err) {
      report = { asked_at, domains: null, unavailable: (err instanceof Error ? err.message : String(err)).slice(0, 2000) };
    }
    try {
      // What the host has is read every heartbeat (a GPU failing its checks, a device rebound)
      // and sent when it changed, when the API asks, and every few minutes regardless (a GPU a
      // launch marked unhealthy is healthy again by the host's word even if nothing changed).
      let sent: string | null = null;
      if (report.domains) {
        const inventory = await this.opts.driver.inventory({ signal: AbortSignal.timeout(10_000) });
        const now = JSON.stringify(inventory);
        if (this.sendInventory || now !== this.sentInventory || Date.now() - this.sentInventoryAt > INVENTORY_REFRESH_MS) {
          report.inventory = inventory;
          sent = now;
        }
      }
      const answer = await this.opts.link.report(report);
      if (sent) {
        this.sentInventory = sent;
        this.sentInventoryAt = Date.now();
      }
      this.sendInventory = answer.inventory_wanted;
    } catch (err) {
      this.log.warn({ err }, 'heartbeat failed');
    }
  }

  async stop(grace_ms = 10_000): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.unwatch?.();
    this.unwatch = null;
    await this.reporting.catch(() => {});
    await this.worker.stop(grace_ms);
  }
}
