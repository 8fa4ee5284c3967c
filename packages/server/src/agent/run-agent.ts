import { join } from 'node:path';
import { createDriver, HostAgent, type HypervisorDriver, ImageStore, privateDir } from '@hangar/core';
import { createLogger, type Log } from '../logger.js';
import type { AgentConfig } from './config.js';
import { readCredentials, saveCredentials } from './credentials.js';
import { HttpAgentLink } from './http-link.js';

/** The version agents report (shown on their hosts). */
export const AGENT_VERSION = '0.1.0';

export interface RunningAgent {
  host_id: string;
  host_name: string;
  agent: HostAgent;
  log: Log;
  /** Stops claiming, lets running operations finish (for the grace period), closes the driver. */
  close(): Promise<void>;
}

/**
 * `hangar agent`: joins the fleet with HANGAR_JOIN_TOKEN on its first start (the credentials
 * it gets are kept in its data directory, 0600), then runs its host: operations, heartbeats,
 * the hypervisor's events. It talks to the API only, never to PostgreSQL.
 */
export async function startAgent(config: AgentConfig, opts: { driver?: HypervisorDriver; log?: Log } = {}): Promise<RunningAgent> {
  const log = opts.log ?? createLogger(config.LOG_LEVEL);
  const dataDir = config.HANGAR_DATA_DIR;
  await privateDir(dataDir);
  const driver = opts.driver ?? (await createDriver(config.HANGAR_DRIVER, config.driver_settings, { data_dir: dataDir }));
  const link = new HttpAgentLink({
    urls: config.HANGAR_API_URL,
    onFailover: (from, to, err) =>
      log.warn({ from, to, err: err instanceof Error ? err.message : String(err) }, 'API unreachable: trying the next one'),
  });
  try {
    let saved = await readCredentials(dataDir);
    if (saved && saved.host_name !== config.HANGAR_HOST_NAME) {
      throw new Error(
        `This data directory belongs to host ${saved.host_name}, not ${config.HANGAR_HOST_NAME}: use another HANGAR_DATA_DIR, or remove ${join(dataDir, 'agent-credentials.json')} to join anew`,
      );
    }
    if (!saved) {
      if (!config.HANGAR_JOIN_TOKEN)
        throw new Error('This agent has not joined yet: set HANGAR_JOIN_TOKEN (an admin makes one with `hangar admin create-join-token`)');
      const inventory = await driver.inventory({ signal: AbortSignal.timeout(30_000) });
      const answer = await link.join({
        token: config.HANGAR_JOIN_TOKEN,
        name: config.HANGAR_HOST_NAME,
        driver: driver.kind,
        version: AGENT_VERSION,
        inventory,
        labels: config.HANGAR_HOST_LABELS,
      });
      saved = { host_id: answer.host_id, host_name: config.HANGAR_HOST_NAME, credential: answer.credential };
      await saveCredentials(dataDir, saved);
      log.info({ host: saved.host_name, host_id: saved.host_id }, 'joined the fleet');
    }
    link.setCredential(saved.credential);
    const images = new ImageStore(join(dataDir, 'images'));
    await images.init();
    const agent = new HostAgent({
      link,
      driver,
      host_id: saved.host_id,
      version: AGENT_VERSION,
      images,
      scratch_dir: join(dataDir, 'imports'),
      report_interval_ms: config.HANGAR_AGENT_REPORT_INTERVAL_S * 1000,
      concurrency: config.HANGAR_AGENT_CONCURRENCY,
      logger: log,
    });
    await agent.start();
    log.info({ host: saved.host_name, api: config.HANGAR_API_URL, driver: driver.kind }, 'agent is running');
    let closing: Promise<void> | undefined;
    return {
      host_id: saved.host_id,
      host_name: saved.host_name,
      agent,
      log,
      close: () =>
        (closing ??= (async () => {
          await agent.stop(config.HANGAR_SHUTDOWN_GRACE_MS);
          await driver.close?.();
        })()),
    };
  } catch (err) {
    await driver.close?.();
    throw err;
  }
}
