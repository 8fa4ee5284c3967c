import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Database, type DirectBoot, SimulatedDriver, type SimulatorConfig } from '@hangar/core';
import { QemuDriver } from '@hangar/core/drivers/qemu';
import { createTestDatabase } from '@hangar/core/testing';
import { loadConfig } from './config.js';
import { createLogger } from './logger.js';
import { type RunningServer, type ServerOptions, startServer } from './server.js';

export const TEST_ADMIN_KEY = 'hgr_test_admin_key_0123456789abcdef';
export const TEST_ADMIN_PASSWORD = 'correct horse battery staple';

export interface TestServer extends RunningServer {
  apiKey: string;
  driver: SimulatedDriver;
  dataDir: string;
  /** Stops the server and drops its database. */
  stop(): Promise<void>;
}

/** A quiet server on a random port of 127.0.0.1 with the test admin's key and password. */
function testConfig(dataDir: string, env: Record<string, string> = {}) {
  return loadConfig({
    HOST: '127.0.0.1',
    PORT: '0',
    HANGAR_DATA_DIR: dataDir,
    HANGAR_BOOTSTRAP_API_KEY: TEST_ADMIN_KEY,
    HANGAR_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD,
    LOG_LEVEL: 'silent',
    ...env,
  });
}

/** A real server on a random port, with a fresh database and a simulated host, for tests. */
export async function startTestServer(
  opts: {
    simulator?: SimulatorConfig;
    env?: Record<string, string>;
    database?: Database;
    limiter?: ServerOptions['limiter'];
    worker?: ServerOptions['worker'];
    /** Bytes per "GB" of a simulated disk (default a real GiB; small values keep exports quick). */
    sim_bytes_per_gb?: number;
    /** Where the server logs (default: nowhere). */
    log?: ServerOptions['log'];
  } = {},
): Promise<TestServer> {
  const database = opts.database ?? (await createTestDatabase());
  const dataDir = await mkdtemp(join(tmpdir(), 'hangar-server-'));
  const driver = new SimulatedDriver({
    config: { seed: 3, ...opts.simulator },
    disk_dir: join(dataDir, 'sim-disks'),
    bytes_per_gb: opts.sim_bytes_per_gb,
  });
  const config = testConfig(dataDir, opts.env);
  const server = await startServer({
    config,
    database,
    driver,
    log: opts.log ?? createLogger('silent'),
    limiter: opts.limiter,
    worker: { poll_ms: 200, ...opts.worker },
  });
  return {
    ...server,
    apiKey: TEST_ADMIN_KEY,
    driver,
    dataDir,
    async stop() {
      await server.close();
      if (!opts.database) await database.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface QemuTestServer extends RunningServer {
  apiKey: string;
  driver: QemuDriver;
}

/**
 * A real server on a random port running VMs in QEMU (TCG), booting each from `boot`. The
 * database and data directory are the caller's, so a test can stop the server and start
 * another one on the same VMs.
 */
export async function startQemuTestServer(opts: {
  database: Database;
  dataDir: string;
  boot: DirectBoot;
  env?: Record<string, string>;
}): Promise<QemuTestServer> {
  const config = testConfig(opts.dataDir, {
    HANGAR_DRIVER: 'qemu',
    HANGAR_QEMU_ACCEL: 'tcg',
    HANGAR_QEMU_KERNEL: opts.boot.kernel,
    ...(opts.boot.initrd ? { HANGAR_QEMU_INITRD: opts.boot.initrd } : {}),
    ...(opts.boot.append ? { HANGAR_QEMU_APPEND: opts.boot.append } : {}),
    ...opts.env,
  });
  const server = await startServer({
    config,
    database: opts.database,
    log: createLogger('silent'),
    worker: { poll_ms: 200 },
  });
  const driver = [...server.controlPlane.drivers.values()][0];
  if (!(driver instanceof QemuDriver)) throw new Error('the server did not start the QEMU driver');
  return { ...server, apiKey: TEST_ADMIN_KEY, driver };
}
export { type ServeProcess, serveProcess } from './serve-process.js';
