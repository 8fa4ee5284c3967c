import { writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import {
  type BootstrapResult,
  type ControlPlane,
  createDriver,
  type Database,
  dataDirectory,
  type HypervisorDriver,
  openDatabase,
  privateDir,
  startControlPlane,
  UrlPolicy,
} from '@hangar/core';
import { type ServerType, serve } from '@hono/node-server';
import { createApp } from './app.js';
import { Authenticator } from './auth/authenticator.js';
import { type LimiterOptions, LoginLimiter } from './auth/login-limiter.js';
import type { Config } from './config.js';
import { ConsoleSockets } from './http/console-socket.js';
import { TransferHub } from './http/transfer-hub.js';
import { createLogger, type Log } from './logger.js';
import { HangarMetrics } from './metrics/hangar-metrics.js';
import { type MetricsListener, startMetricsListener } from './metrics/metrics-endpoint.js';

export interface ServerOptions {
  config: Config;
  /** An open database; otherwise one is opened from the config (embedded when no DATABASE_URL). */
  database?: Database;
  /** The hypervisor; otherwise the one the config names. */
  driver?: HypervisorDriver;
  log?: Log;
  limiter?: LimiterOptions;
  worker?: { lease_ms?: number; poll_ms?: number; max_operation_ms?: number };
  reconciler?: { interval_ms?: number; heartbeat_timeout_s?: number };
}

export interface RunningServer {
  url: string;
  port: number;
  controlPlane: ControlPlane;
  database: Database;
  bootstrap: BootstrapResult;
  log: Log;
  /** Where `/metrics` is served on a port of its own (HANGAR_METRICS_PORT); null when it is on `url`'s port. */
  metricsUrl: string | null;
  /** Stops taking requests, lets in-flight ones finish, releases leases, closes the database. */
  close(): Promise<void>;
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const { config } = opts;
  // Milliseconds since the process began: node's own start and loading the modules.
  const modulesMs = Math.round(process.uptime() * 1000);
  const log = opts.log ?? createLogger(config.LOG_LEVEL);
  const ownsDatabase = !opts.database;
  const dataDir = dataDirectory(config.HANGAR_DATA_DIR);
  await privateDir(dataDir);
  const database =
    opts.database ??
    (await openDatabase({
      url: config.DATABASE_URL,
      dataDir,
      wait_ms: config.HANGAR_DATABASE_WAIT_S * 1000,
      onWait: (err, attempt) =>
        log.warn(
          { attempt, err: err instanceof Error ? err.message : String(err) },
          `waiting for the database (${attempt} s of ${config.HANGAR_DATABASE_WAIT_S} s): it does not answer yet`,
        ),
    }));
  const databaseReady = performance.now();
  let controlPlane: ControlPlane | undefined;
  let metricsListener: MetricsListener | undefined;
  try {
    const metrics = new HangarMetrics(database, log);
    const transfers = new TransferHub();
    // A fleet's API process drives no hypervisor: its hosts are agents'.
    const single = config.HANGAR_MODE === 'single';
    const driver = single
      ? (opts.driver ?? (await createDriver(config.HANGAR_DRIVER, config.driver_settings, { data_dir: dataDir })))
      : null;
    const about = await driver?.describe?.();
    if (about && driver) log.info({ driver: driver.kind, ...about }, `${driver.kind} driver`);
    controlPlane = await startControlPlane({
      database,
      hosts: driver ? [{ name: config.HANGAR_HOST_NAME, driver }] : [],
      worker: config.HANGAR_WORKER === 'off' ? false : { concurrency: config.HANGAR_WORKER_CONCURRENCY, ...opts.worker },
      reconciler:
        config.HANGAR_WORKER === 'off'
          ? false
          : {
              interval_ms: config.HANGAR_RECONCILE_INTERVAL_S * 1000,
              heartbeat_timeout_s: config.HANGAR_HEARTBEAT_TIMEOUT_S,
              ...opts.reconciler,
            },
      image_dir: config.HANGAR_IMAGE_DIR,
      archive_relay: transfers,
      placement_strategy: config.HANGAR_PLACEMENT_STRATEGY,
      logger: log,
      dataDir,
      max_image_bytes: config.HANGAR_IMAGE_MAX_BYTES,
      max_import_bytes: config.HANGAR_IMPORT_MAX_BYTES,
      image_downloads: {
        url_policy: UrlPolicy.fromList(config.HANGAR_IMAGE_ALLOW_HOSTS),
        stall_timeout_ms: config.HANGAR_IMAGE_STALL_TIMEOUT_S * 1000,
        deadline_ms: config.HANGAR_IMAGE_DOWNLOAD_TIMEOUT_S * 1000,
      },
      telemetry: metrics.telemetry,
    });
    const { services } = controlPlane;
    const controlPlaneReady = performance.now();
    const bootstrap = await services.auth.bootstrap({
      api_key: config.HANGAR_BOOTSTRAP_API_KEY,
      password: config.HANGAR_ADMIN_PASSWORD,
    });
    // A key or password the operator chose is theirs already: only generated ones are announced.
    await announceBootstrap({ ...bootstrap, api_key: config.HANGAR_BOOTSTRAP_API_KEY ? null : bootstrap.api_key }, dataDir, log);
    const secret = config.HANGAR_JWT_SECRET ?? (await services.auth.setting('jwt_secret'));
    const auth = new Authenticator({
      services,
      secret,
      ttlSeconds: config.HANGAR_JWT_TTL_S,
      limiter: new LoginLimiter(opts.limiter),
    });
    const shutdown = new AbortController();
    const consoles = new ConsoleSockets({
      services,
      log,
      shutdown: shutdown.signal,
      ticket_ttl_ms: config.HANGAR_CONSOLE_TICKET_TTL_S * 1000,
      ping_ms: config.HANGAR_CONSOLE_PING_S * 1000,
      max_per_principal: config.HANGAR_MAX_CONSOLES_PER_PRINCIPAL,
    });
    const app = createApp({
      services,
      auth,
      db: database.db,
      log,
      shutdown: shutdown.signal,
      archives: config.HANGAR_WORKER === 'off' ? null : controlPlane.archives,
      images: controlPlane.images,
      transfers,
      max_waits_per_principal: config.HANGAR_MAX_WAITS_PER_PRINCIPAL,
      metrics,
      serve_metrics: config.HANGAR_METRICS_PORT === undefined,
      watch_heartbeat_ms: config.HANGAR_WATCH_HEARTBEAT_S * 1000,
      consoles,
      dialects: config.HANGAR_DIALECTS,
    });

    const bootstrapped = performance.now();
    if (config.HANGAR_METRICS_PORT !== undefined) {
      metricsListener = await startMetricsListener({ metrics, host: config.HANGAR_METRICS_HOST, port: config.HANGAR_METRICS_PORT });
    }
    const server = await new Promise<ServerType>((resolve, reject) => {
      const s = serve({ fetch: app.fetch, hostname: config.HOST, port: config.PORT }, () => resolve(s));
      s.once('error', reject);
    });
    consoles.attach(server);
    const port = (server.address() as AddressInfo).port;
    const url = `http://${config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST}:${port}`;
    log.info(
      {
        url,
        metrics: metricsListener ? `${metricsListener.url}/metrics` : `${url}/metrics (global admins)`,
        mode: config.HANGAR_MODE,
        database: database.embedded ? 'embedded' : 'external',
        driver: controlPlane.hosts[0]?.driver ?? null,
        // The bundle from `pnpm build`, or the TypeScript sources through tsx (no build, or an older one).
        code: import.meta.url.endsWith('.ts') ? 'sources' : 'built',
        // Where the start went, in ms: the process and its modules, then each step to serving.
        startup_ms: {
          process: modulesMs,
          postgres: database.opened.postgres_ms,
          migrations: database.opened.migrations_ms,
          control_plane: Math.round(controlPlaneReady - databaseReady),
          bootstrap: Math.round(bootstrapped - controlPlaneReady),
          total: Math.round(process.uptime() * 1000),
        },
      },
      'hangar is serving',
    );

    const cp = controlPlane;
    const listener = metricsListener;
    let closing: Promise<void> | undefined;
    return {
      url,
      port,
      controlPlane: cp,
      database,
      bootstrap,
      log,
      metricsUrl: listener?.url ?? null,
      close: () =>
        (closing ??= (async () => {
          log.info('shutting down: no new requests, finishing those in flight');
          const drained = new Promise<void>((resolve) => server.close(() => resolve()));
          if ('closeIdleConnections' in server) server.closeIdleConnections();
          shutdown.abort();
          await drained;
          // Scraped until the API stops answering; gone before the database is.
          await listener?.close();
          await cp.close(config.HANGAR_SHUTDOWN_GRACE_MS);
          if (ownsDatabase) await database.close();
          log.info('stopped');
        })()),
    };
  } catch (err) {
    await metricsListener?.close();
    await controlPlane?.close();
    if (ownsDatabase) await database.close();
    throw err;
  }
}

/** A generated admin key or password is printed once and kept, readable only by its owner, in the data directory. */
async function announceBootstrap(b: BootstrapResult, dataDir: string, log: Log): Promise<void> {
  if (b.api_key) {
    const file = join(dataDir, 'admin-api-key');
    await writeFile(file, `${b.api_key}\n`, { mode: 0o600 });
    log.info({ file }, 'created the admin API key (saved to the file named here)');
    process.stdout.write(`\nAdmin API key (shown once, also saved to ${file}):\n  ${b.api_key}\n\n`);
  }
  if (b.generated_password) {
    const file = join(dataDir, 'admin-password');
    await writeFile(file, `${b.generated_password}\n`, { mode: 0o600 });
    process.stdout.write(`Admin password for user 'admin' (shown once, also saved to ${file}):\n  ${b.generated_password}\n\n`);
  }
}
