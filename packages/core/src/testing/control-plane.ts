import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ControlPlane, type ControlPlaneOptions, startControlPlane } from '../control-plane.js';
import type { Scope } from '../domain/project.js';
import { SimulatedDriver } from '../drivers/simulated/driver.js';
import { SimulatedHypervisor, type SimulatorConfig } from '../drivers/simulated/hypervisor.js';
import { ensureProject } from '../services/projects.js';
import type { Database } from '../store/database.js';
import { silentLogger } from '../worker/logger.js';
import { createTestDatabase } from './database.js';

export interface TestControlPlane extends ControlPlane {
  database: Database;
  dataDir: string;
  hypervisor: SimulatedHypervisor;
  driver: SimulatedDriver;
  scope: Scope;
  /** The driver's handle of a VM, as stored with it: tests reach past the API to the hypervisor with it. */
  domainRef(vmId: string): Promise<string>;
  /** Stops everything and drops the database. */
  shutdown(): Promise<void>;
}

/** A control plane on a fresh database with one simulated host, as tests need it. */
export async function startTestControlPlane(
  opts: {
    simulator?: SimulatorConfig;
    worker?: ControlPlaneOptions['worker'];
    reconciler?: ControlPlaneOptions['reconciler'];
    database?: Database;
    controlPlane?: Pick<ControlPlaneOptions, 'max_image_bytes' | 'max_import_bytes' | 'image_downloads'>;
    /** Where the simulated disks go (default: inside the control plane's data directory). */
    disk_dir?: string;
  } = {},
): Promise<TestControlPlane> {
  const database = opts.database ?? (await createTestDatabase());
  const dataDir = await mkdtemp(join(tmpdir(), 'hangar-test-cp-'));
  const hypervisor = new SimulatedHypervisor({ seed: 7, ...opts.simulator });
  // Simulated disks of 1 MiB per "GB": exports and imports in tests move megabytes, not gigabytes.
  const driver = new SimulatedDriver({ hypervisor, disk_dir: opts.disk_dir ?? join(dataDir, 'sim-disks'), bytes_per_gb: 2 ** 20 });
  const cp = await startControlPlane({
    database,
    hosts: [{ name: 'sim-1', driver }],
    worker: opts.worker === false ? false : { poll_ms: 200, ...opts.worker },
    reconciler: opts.reconciler === false ? false : { interval_ms: 60_000, ...opts.reconciler },
    logger: silentLogger,
    dataDir,
    ...opts.controlPlane,
  });
  const project = await ensureProject(database.db, 'test');
  return {
    ...cp,
    database,
    dataDir,
    hypervisor,
    driver,
    scope: { project_id: project.id, actor: 'test' },
    async domainRef(vmId) {
      const [row] = await database.sql`SELECT domain_ref FROM vms WHERE id = ${vmId}`;
      if (!row?.domain_ref) throw new Error(`VM ${vmId} has no domain`);
      return row.domain_ref as string;
    },
    async shutdown() {
      await cp.close();
      if (!opts.database) await database.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
