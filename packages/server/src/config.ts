import { UrlPolicy } from '@hangar/core';
import { z } from 'zod';

const Env = z.object({
  HOST: z.string().default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  DATABASE_URL: z.string().optional(),
  HANGAR_DATA_DIR: z.string().optional(),
  HANGAR_DRIVER: z.enum(['simulated', 'qemu']).default('simulated'),
  HANGAR_HOST_NAME: z.string().min(1).default('local'),
  HANGAR_JWT_SECRET: z.string().min(32, 'HANGAR_JWT_SECRET must be at least 32 characters').optional(),
  HANGAR_JWT_TTL_S: z.coerce
    .number()
    .int()
    .min(60)
    .max(86_400 * 30)
    .default(3600),
  HANGAR_BOOTSTRAP_API_KEY: z.string().optional(),
  HANGAR_ADMIN_PASSWORD: z.string().min(8, 'HANGAR_ADMIN_PASSWORD must be at least 8 characters').optional(),
  HANGAR_WORKER: z.enum(['on', 'off']).default('on'),
  /** At shutdown, how long running operations get to finish before they are handed to the next worker. */
  HANGAR_SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).max(600_000).default(10_000),
  /** Simulated hypervisor only: latency of each call, `ms` or `min-max`, and the fault seed. */
  HANGAR_SIM_LATENCY_MS: z
    .string()
    .regex(/^\d+(-\d+)?$/, 'HANGAR_SIM_LATENCY_MS must be a number of ms or a range like 10-50')
    .optional(),
  HANGAR_SIM_SEED: z.coerce.number().int().optional(),
  /** QEMU driver: the binaries, the accelerator, and an optional kernel every VM boots from directly. */
  HANGAR_QEMU_BINARY: z.string().min(1).default('qemu-system-x86_64'),
  HANGAR_QEMU_IMG: z.string().min(1).default('qemu-img'),
  HANGAR_QEMU_ACCEL: z.enum(['auto', 'kvm', 'tcg']).default('auto'),
  HANGAR_QEMU_KERNEL: z.string().optional(),
  HANGAR_QEMU_INITRD: z.string().optional(),
  HANGAR_QEMU_APPEND: z.string().optional(),
  /** Where sysfs is mounted, for the GPU scan (a fixture tree in tests). */
  HANGAR_SYSFS_ROOT: z.string().default('/sys'),
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
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});
export type Config = z.infer<typeof Env>;

/** Settings come from the environment; a bad value stops the start with a sentence saying which. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const r = Env.safeParse(env);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return r.data;
}
