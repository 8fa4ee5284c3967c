import { DRIVER_KINDS, type DriverKind, readDriverSettings, UrlPolicy } from '@hangar/core';
import { z } from 'zod';
import { parseDialects } from './dialects/names.js';

/**
 * A secret still set to the example's placeholder (deploy/.env.example, deploy/k8s/secret.yaml
 * say `change-me`): published in the repository, so refused rather than started with.
 */
const PLACEHOLDER = /change-?me/i;
const secret = <T extends z.ZodType<string | undefined>>(name: string, schema: T) =>
  schema.refine((v) => v === undefined || !PLACEHOLDER.test(v), {
    message: `${name} is still the example's placeholder (change-me): set a secret of your own`,
  });

const Env = z.object({
  HOST: z.string().default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  DATABASE_URL: z.string().optional(),
  HANGAR_DATA_DIR: z.string().optional(),
  HANGAR_DRIVER: z.enum(DRIVER_KINDS).default('simulated'),
  HANGAR_HOST_NAME: z.string().min(1).default('local'),
  HANGAR_JWT_SECRET: secret('HANGAR_JWT_SECRET', z.string().min(32, 'HANGAR_JWT_SECRET must be at least 32 characters').optional()),
  HANGAR_JWT_TTL_S: z.coerce
    .number()
    .int()
    .min(60)
    .max(86_400 * 30)
    .default(3600),
  HANGAR_BOOTSTRAP_API_KEY: secret('HANGAR_BOOTSTRAP_API_KEY', z.string().optional()),
  HANGAR_ADMIN_PASSWORD: secret(
    'HANGAR_ADMIN_PASSWORD',
    z.string().min(8, 'HANGAR_ADMIN_PASSWORD must be at least 8 characters').optional(),
  ),
  HANGAR_WORKER: z.enum(['on', 'off']).default('on'),
  /**
   * Operations this process's worker runs at once. Most of an operation is waiting (on the
   * hypervisor, on a commit), so a worker that runs more at once ends more per commit: 16 kept
   * it at about a thousand a second while the database and the CPU had room for half as many again.
   */
  HANGAR_WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(1024).default(64),
  /**
   * `single`: the API and this machine's hypervisor in one process (its own host, HANGAR_DRIVER).
   * `api`: the API alone, for a fleet: hosts are run by `hangar agent`s; any number of API
   * processes share one PostgreSQL (and one image directory).
   */
  HANGAR_MODE: z.enum(['single', 'api']).default('single'),
  /** Where new VMs go among the hosts with room: the emptiest (spread) or the fullest (pack). */
  HANGAR_PLACEMENT_STRATEGY: z.enum(['spread', 'pack']).default('spread'),
  /** How often the reconciler checks deadlines, drift and heartbeats. */
  HANGAR_RECONCILE_INTERVAL_S: z.coerce.number().min(0.1).max(3600).default(5),
  /** An agent's host that has not reported for this long goes offline, its VMs unknown (the scheduler's own limit is 120 s). */
  HANGAR_HEARTBEAT_TIMEOUT_S: z.coerce.number().int().min(2).max(120).default(30),
  /** The image store's directory (default <data dir>/images); a fleet's API processes share one. */
  HANGAR_IMAGE_DIR: z.string().optional(),
  /** At shutdown, how long running operations get to finish before they are handed to the next worker. */
  HANGAR_SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).max(600_000).default(10_000),
  /** Largest image a download or upload may store, and largest expanded VM import, in bytes. */
  HANGAR_IMAGE_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .default(64 * 2 ** 30),
  HANGAR_IMPORT_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .default(1024 * 2 ** 30),
  /**
   * Image and ISO URLs may lead only to public addresses; these host names, addresses and CIDRs
   * (comma-separated) are allowed too, e.g. an internal mirror.
   */
  HANGAR_IMAGE_ALLOW_HOSTS: z
    .string()
    .default('')
    .refine(
      (v) => {
        try {
          UrlPolicy.fromList(v);
          return true;
        } catch {
          return false;
        }
      },
      { message: 'HANGAR_IMAGE_ALLOW_HOSTS must list host names, IP addresses or CIDRs, separated by commas' },
    ),
  /** A download that moves less than 64 KiB in this long fails; no download takes longer than the timeout. */
  HANGAR_IMAGE_STALL_TIMEOUT_S: z.coerce.number().int().min(1).default(60),
  HANGAR_IMAGE_DOWNLOAD_TIMEOUT_S: z.coerce.number().int().min(1).default(7200),
  /** Long-polls (waits) one API key or signed-in user may hold at once; more are answered 429. */
  HANGAR_MAX_WAITS_PER_PRINCIPAL: z.coerce.number().int().min(1).default(64),
  /** How long a ticket for a VM's screen (`vms.console_ticket`) opens its WebSocket, if unused. */
  HANGAR_CONSOLE_TICKET_TTL_S: z.coerce.number().min(0.05).max(3600).default(60),
  /** Seconds between pings on an open console; a browser that misses one is taken for gone. */
  HANGAR_CONSOLE_PING_S: z.coerce.number().min(0.05).max(600).default(30),
  /** VM screen WebSockets one API key or signed-in user may hold open at once; more are answered 429. */
  HANGAR_MAX_CONSOLES_PER_PRINCIPAL: z.coerce.number().int().min(1).default(8),
  /** Seconds between heartbeats (SSE comments) on an idle watch stream, so proxies keep it open. */
  HANGAR_WATCH_HEARTBEAT_S: z.coerce.number().min(0.05).max(300).default(15),
  /**
   * The earlier VM APIs spoken at the root beside the native one (`/vms`, `/token`, `/api/vms`):
   * `all` (the default), `none`, or a comma-separated list (see docs/migrating.md).
   */
  HANGAR_DIALECTS: z
    .string()
    .default('all')
    .transform((v, ctx) => {
      try {
        return parseDialects(v);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    }),
  /** How long `hangar serve` waits for a database that does not answer at start before giving up. */
  HANGAR_DATABASE_WAIT_S: z.coerce.number().int().min(0).max(3600).default(60),
  /**
   * Serve `/metrics` (Prometheus) on this port of its own, unauthenticated, instead of on PORT
   * for global admins (PORT's `/metrics` then answers 404). 0: any free port (tests).
   */
  HANGAR_METRICS_PORT: z.preprocess((v) => (v === '' ? undefined : v), z.coerce.number().int().min(0).max(65535).optional()),
  /** Where the metrics port listens: loopback by default, since nothing guards it but who can reach it. */
  HANGAR_METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});
export type Config = z.infer<typeof Env> & {
  /** The settings of the driver HANGAR_DRIVER names, read by its definition (HANGAR_QEMU_…, HANGAR_SIM_…). */
  driver_settings: unknown;
};

/** Settings come from the environment; a bad value stops the start with a sentence saying which. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return readSettings(Env, env);
}

/**
 * An environment read by a schema with a HANGAR_DRIVER, together with that driver's own
 * settings (`hangar serve`'s and `hangar agent`'s). Every mistake is named at once, the driver's
 * included, in one error.
 */
export function readSettings<S extends z.ZodObject<{ HANGAR_DRIVER: z.ZodDefault<z.ZodEnum<{ [K in DriverKind]: K }>> }>>(
  schema: S,
  env: NodeJS.ProcessEnv,
): z.infer<S> & { driver_settings: unknown } {
  const r = schema.safeParse(env);
  const issues = r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  const kind = schema.shape.HANGAR_DRIVER.safeParse(env.HANGAR_DRIVER);
  const driver = kind.success ? readDriverSettings(kind.data as DriverKind, env) : { ok: false as const, issues: [] };
  if (!driver.ok) issues.push(...driver.issues);
  if (!r.success || !driver.ok) throw new Error(`Invalid configuration:\n${issues.map((l) => `  ${l}`).join('\n')}`);
  return { ...(r.data as z.infer<S>), driver_settings: driver.settings };
}
