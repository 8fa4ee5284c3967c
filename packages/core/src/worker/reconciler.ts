import type { HypervisorDriver } from '../drivers/driver.js';
import type { Db } from '../store/database.js';
import { NO_TELEMETRY, type Telemetry } from '../telemetry.js';
import type { DomainsInHand } from './domains-in-hand.js';
import { consoleLogger, type Logger } from './logger.js';
import { expireOverdue } from './maintenance/deadlines.js';
import { DriftWatch } from './maintenance/drift.js';
import { DEFAULT_HEARTBEAT_TIMEOUT_S, loseSilentHosts } from './maintenance/heartbeats.js';
import { houseKeep } from './maintenance/housekeeping.js';

export interface ReconcilerOptions {
  db: Db;
  drivers: Map<string, HypervisorDriver>;
  /** How often deadlines and drift are checked. */
  interval_ms?: number;
  /** How often housekeeping runs (one process at a time across all of them). */
  housekeeping_interval_ms?: number;
  /** Seconds without a heartbeat after which an agent's host goes offline. */
  heartbeat_timeout_s?: number;
  /** How long idempotency keys are remembered. */
  idempotency_ttl_ms?: number;
  logger?: Logger;
  /** Told of drift corrected and operations failed past their deadline. */
  telemetry?: Telemetry;
  /**
   * The domains this process's worker is acting on: a change the hypervisor reports of one of
   * them is that operation's doing, and is not looked up (one query saved per event of every
   * operation; the periodic pass compares each domain afterwards).
   */
  inHand?: DomainsInHand;
}

/**
 * Keeps the database honest about the hypervisors, by scheduling the maintenance services in
 * `maintenance/`: deadlines (operations that outlived theirs fail, recording what the host
 * shows), drift and heartbeat (domains that crashed, vanished or changed by themselves; hosts
 * that cannot be reached; agents' hosts that stopped reporting), and housekeeping (expired
 * idempotency keys). Agents' reports reach `drift` through the API. A failing pass is
 * logged and the next one runs as usual.
 */
export class Reconciler {
  private readonly db: Db;
  private readonly drivers: Map<string, HypervisorDriver>;
  private readonly log: Logger;
  private readonly telemetry: Telemetry;
  readonly drift: DriftWatch;
  /** The domains this process's worker has in hand: their changes are left to the operations on them. */
  readonly inHand: DomainsInHand | undefined;
  private timers: NodeJS.Timeout[] = [];
  private unwatch: (() => void)[] = [];
  private pass: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: ReconcilerOptions) {
    this.db = opts.db;
    this.drivers = opts.drivers;
    this.log = opts.logger ?? consoleLogger;
    this.telemetry = opts.telemetry ?? NO_TELEMETRY;
    this.drift = new DriftWatch(this.db, this.log, this.telemetry);
    this.inHand = opts.inHand;
  }

  start(): void {
    if (this.timers.length > 0) return;
    for (const [hostId, driver] of this.drivers) {
      const off = driver.watch?.((change) => {
        if (this.inHand?.has(hostId, change.ref)) return;
        void this.drift
          .onDomainChange(hostId, change, new Date())
          .catch((err: unknown) => this.log.warn({ err, host: hostId }, 'reconciling a domain event failed'));
      });
      if (off) this.unwatch.push(off);
    }
    const every = (ms: number, what: string, run: () => Promise<unknown>) => {
      const timer = setInterval(() => {
        const next = this.pass.catch(() => {}).then(run);
        this.pass = next;
        next.catch((err: unknown) => this.log.error({ err }, `${what} failed`));
      }, ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(this.opts.interval_ms ?? 5_000, 'reconciling', () => this.checkAll());
    every(this.opts.housekeeping_interval_ms ?? 600_000, 'housekeeping', () => this.houseKeep());
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    for (const off of this.unwatch) off();
    this.unwatch = [];
    await this.pass.catch(() => {});
  }

  /** One full pass of every service; passes never overlap. */
  runOnce(): Promise<{ expired: number; drifted: number }> {
    const next = this.pass
      .catch(() => {})
      .then(async () => {
        const counts = await this.checkAll();
        await this.houseKeep();
        return counts;
      });
    this.pass = next;
    return next;
  }

  /** Operations past their deadline fail, and their VM takes the state the hypervisor shows. */
  expireOverdue(): Promise<number> {
    return expireOverdue(this.db, this.drivers, this.telemetry);
  }

  /** Compares every settled VM on a host with what its hypervisor lists. */
  checkHost(hostId: string, driver: HypervisorDriver): Promise<number> {
    return this.drift.checkHost(hostId, driver);
  }

  private async checkAll(): Promise<{ expired: number; drifted: number }> {
    const expired = await this.expireOverdue();
    let drifted = 0;
    await loseSilentHosts(this.db, this.drift, this.opts.heartbeat_timeout_s ?? DEFAULT_HEARTBEAT_TIMEOUT_S);
    for (const [hostId, driver] of this.drivers) drifted += await this.checkHost(hostId, driver);
    return { expired, drifted };
  }

  private houseKeep(): Promise<number | null> {
    return houseKeep(this.db, { idempotency_ttl_ms: this.opts.idempotency_ttl_ms ?? 24 * 3600 * 1000 });
  }
}
