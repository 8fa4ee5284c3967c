import type { Host } from './domain/host.js';
import type { HypervisorDriver } from './drivers/driver.js';
import { createServices, type Services } from './services/index.js';
import { registerHost } from './services/hosts.js';
import type { Database } from './store/database.js';
import { Notifier } from './store/notifier.js';
import { Reconciler, type ReconcilerOptions } from './worker/reconciler.js';
import { Worker, type WorkerOptions } from './worker/worker.js';
import type { Logger } from './worker/logger.js';

export interface HostDefinition {
  name: string;
  driver: HypervisorDriver;
}

export interface ControlPlaneOptions {
  database: Database;
  hosts: HostDefinition[];
  /** Worker settings, or false to run no worker in this process (API-only). */
  worker?: Partial<Omit<WorkerOptions, 'db' | 'drivers' | 'notifier'>> | false;
  reconciler?: Partial<Omit<ReconcilerOptions, 'db' | 'drivers'>> | false;
  logger?: Logger;
}

export interface ControlPlane {
  services: Services;
  notifier: Notifier;
  hosts: Host[];
  drivers: Map<string, HypervisorDriver>;
  worker: Worker | null;
  reconciler: Reconciler | null;
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
  const drivers = new Map<string, HypervisorDriver>();
  const hosts: Host[] = [];
  for (const h of opts.hosts) {
    const inventory = await h.driver.inventory();
    const host = await registerHost(db, { name: h.name, driver: h.driver.kind, inventory });
    drivers.set(host.id, h.driver);
    hosts.push(host);
  }
  const services = createServices({ db, notifier });
  const worker =
    opts.worker === false ? null : new Worker({ ...opts.worker, logger: opts.logger, db, drivers, notifier });
  const reconciler =
    opts.reconciler === false ? null : new Reconciler({ ...opts.reconciler, logger: opts.logger, db, drivers });
  worker?.start();
  reconciler?.start();
  return {
    services,
    notifier,
    hosts,
    drivers,
    worker,
    reconciler,
    async close(grace_ms?: number) {
      await reconciler?.stop();
      await worker?.stop(grace_ms);
      await notifier.close();
      for (const d of drivers.values()) await d.close?.();
    },
  };
}
