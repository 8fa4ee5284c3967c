import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Host } from './domain/host.js';
import type { HypervisorDriver } from './drivers/driver.js';
import { ImageStore } from './images/store.js';
import type { PlacementStrategy } from './scheduler/reserve.js';
import type { ArchiveRelay } from './services/archive/relay.js';
import { VmArchives } from './services/archive/vm-archives.js';
import { registerHost } from './services/hosts.js';
import { createServices, type Services } from './services/index.js';
import type { Database } from './store/database.js';
import { EventFeed } from './store/event-feed.js';
import { Notifier } from './store/notifier.js';
import type { Telemetry } from './telemetry.js';
import { ImageDownloader, type ImageDownloaderOptions } from './worker/image-downloads.js';
import type { Logger } from './worker/logger.js';
import { Reconciler, type ReconcilerOptions } from './worker/reconciler.js';
import { Worker, type WorkerOptions } from './worker/worker.js';

export interface HostDefinition {
  name: string;
  driver: HypervisorDriver;
}

export interface ControlPlaneOptions {
  database: Database;
  hosts: HostDefinition[];
  /** Worker settings, or false to run no worker in this process (API-only). */
  worker?: Partial<Omit<WorkerOptions, 'db' | 'drivers' | 'notifier' | 'telemetry'>> | false;
  reconciler?: Partial<Omit<ReconcilerOptions, 'db' | 'drivers' | 'telemetry'>> | false;
  logger?: Logger;
  /** Where the image store and imports in progress live. */
  dataDir?: string;
  /** Largest image (download or upload) and largest expanded import, in bytes. */
  max_image_bytes?: number;
  max_import_bytes?: number;
  /** Where images live (default `<dataDir>/images`); a fleet's API processes share one directory. */
  image_dir?: string;
  /** Where the scheduler puts new VMs among the hosts with room. */
  placement_strategy?: PlacementStrategy;
  /** How exports and imports reach VMs on agents' hosts (the server's transfer routes). */
  archive_relay?: ArchiveRelay;
  /** Image downloads: where URLs may lead (default public addresses only), stall timeout, deadline, how often to look for work unwoken. */
  image_downloads?: Pick<ImageDownloaderOptions, 'url_policy' | 'stall_timeout_ms' | 'deadline_ms' | 'concurrency' | 'poll_ms'>;
  /** Told what the worker, the reconciler, agents' reports and downloads do (the server's metrics); default nothing. */
  telemetry?: Telemetry;
}

export interface ControlPlane {
  services: Services;
  notifier: Notifier;
  feed: EventFeed;
  hosts: Host[];
  drivers: Map<string, HypervisorDriver>;
  worker: Worker | null;
  reconciler: Reconciler | null;
  images: ImageStore;
  downloader: ImageDownloader | null;
  archives: VmArchives;
  /**
   * Stops the reconciler and the worker: operations running get `grace_ms` to finish, the rest
   * are released for another worker. The database stays open.
   */
  close(grace_ms?: number): Promise<void>;
}

/**
 * Everything behind the API in one process: hosts registered from their drivers'
 * inventories, the services, and (unless disabled) a worker and a reconciler for those hosts.
 */
export async function startControlPlane(opts: ControlPlaneOptions): Promise<ControlPlane> {
  const { db, sql } = opts.database;
  const notifier = await Notifier.start(sql);
  const feed = await EventFeed.start(sql, { onError: (err) => opts.logger?.warn({ err }, 'sequencing events failed; trying again') });
  const drivers = new Map<string, HypervisorDriver>();
  const hosts: Host[] = [];
  for (const h of opts.hosts) {
    const inventory = await h.driver.inventory();
    const host = await registerHost(db, { name: h.name, driver: h.driver.kind, inventory });
    drivers.set(host.id, h.driver);
    hosts.push(host);
  }
  // Without a data directory, one of its own: init() clears leftovers, so it must not be shared.
  const dataDir = opts.dataDir ?? join(tmpdir(), `hangar-cp-${process.pid}-${randomUUID().slice(0, 8)}`);
  const images = new ImageStore(opts.image_dir ?? join(dataDir, 'images'), opts.max_image_bytes);
  await images.init();
  const archives = new VmArchives({
    db,
    drivers,
    importDir: join(dataDir, 'imports'),
    max_import_bytes: opts.max_import_bytes,
    logger: opts.logger,
    relay: opts.archive_relay,
    notifier,
    telemetry: opts.telemetry,
  });
  await archives.init();
  const services = createServices({
    db,
    notifier,
    feed,
    images,
    drivers,
    placement_strategy: opts.placement_strategy,
    logger: opts.logger,
    telemetry: opts.telemetry,
  });
  const worker =
    opts.worker === false
      ? null
      : new Worker({ ...opts.worker, logger: opts.logger, db, drivers, notifier, images, telemetry: opts.telemetry });
  const downloader =
    opts.worker === false
      ? null
      : new ImageDownloader({ ...opts.image_downloads, db, store: images, notifier, logger: opts.logger, telemetry: opts.telemetry });
  const reconciler =
    opts.reconciler === false
      ? null
      : new Reconciler({ ...opts.reconciler, logger: opts.logger, db, drivers, telemetry: opts.telemetry, inHand: worker?.inHand });
  worker?.start();
  reconciler?.start();
  downloader?.start();
  return {
    services,
    notifier,
    feed,
    hosts,
    drivers,
    worker,
    reconciler,
    images,
    downloader,
    archives,
    async close(grace_ms?: number) {
      await downloader?.stop();
      await reconciler?.stop();
      await worker?.stop(grace_ms);
      await feed.close();
      await notifier.close();
      for (const d of drivers.values()) await d.close?.();
    },
  };
}
