import type { HypervisorDriver } from '../drivers/driver.js';
import type { ImageStore } from '../images/store.js';
import type { PlacementStrategy } from '../scheduler/reserve.js';
import type { Db } from '../store/database.js';
import type { EventFeed } from '../store/event-feed.js';
import type { Notifier } from '../store/notifier.js';
import type { Telemetry } from '../telemetry.js';
import type { Logger } from '../worker/logger.js';

export interface ServiceDeps {
  db: Db;
  /** Needed by the wait functions; the rest work without it. */
  notifier?: Notifier;
  /** The watch stream's source; `events.watch` needs it. */
  feed?: EventFeed;
  /** Where images live; uploads need it. */
  images?: ImageStore;
  /** The hosts this process drives, by host id: what the hypervisor itself shows is read through them. */
  drivers?: ReadonlyMap<string, HypervisorDriver>;
  /** Where the scheduler puts new VMs among the hosts with room (default spread). */
  placement_strategy?: PlacementStrategy;
  /** How long an agent's claim holds before its operation may be taken over. */
  agent_lease_ms?: number;
  logger?: Logger;
  /** Told of what agents' reports change (takeovers, endings, drift). */
  telemetry?: Telemetry;
}
