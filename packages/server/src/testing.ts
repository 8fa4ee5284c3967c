import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase } from '@hangar/core/testing';
import { SimulatedDriver, type Database, type SimulatorConfig } from '@hangar/core';
import { loadConfig } from './config.js';
import { createLogger } from './logger.js';
import { startServer, type RunningServer, type ServerOptions } from './server.js';

export const TEST_ADMIN_KEY = 'hgr_test_admin_key_0123456789abcdef';
export const TEST_ADMIN_PASSWORD = 'correct horse battery staple';

export interface TestServer extends RunningServer {
  apiKey: string;
  driver: SimulatedDriver;
  dataDir: string;
  /** Stops the server and drops its database. */
  stop(): Promise<void>;
}

/** A real server on a random port, with a fresh database and a simulated host, for tests. */
export async function startTestServer(
  opts: {
    simulator?: SimulatorConfig;
    env?: Record<string, string>;
    database?: Database;
    limiter?: ServerOptions['limiter'];
    worker?: ServerOptions['worker'];
  } = {},
): Promise<TestServer> {
  const database = opts.database ?? (await createTestDatabase());
  const dataDir = await mkdtemp(join(tmpdir(), 'hangar-server-'));
  const driver = new SimulatedDriver({ config: { seed: 3, ...opts.simulator } });
  const config = loadConfig({
    HOST: '127.0.0.1',
    PORT: '0',
    HANGAR_DATA_DIR: dataDir,
    HANGAR_BOOTSTRAP_API_KEY: TEST_ADMIN_KEY,
    HANGAR_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD,
    LOG_LEVEL: 'silent',
    ...opts.env,
  });
  const server = await startServer({
    config,
    database,
    driver,
    log: createLogger('silent'),
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
