import { DRIVER_KINDS, HostLabels, HostName } from '@hangar/core';
import { z } from 'zod';
import { readSettings } from '../config.js';

/** A comma list of labels, `key=value,key=value`. */
const LabelList = z
  .string()
  .default('')
  .transform((v, ctx) => {
    const pairs = v
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean)
      .map((p) => {
        const i = p.indexOf('=');
        return i < 0 ? [p, ''] : [p.slice(0, i), p.slice(i + 1)];
      });
    const r = HostLabels.safeParse(Object.fromEntries(pairs));
    if (!r.success) {
      ctx.addIssue({ code: 'custom', message: `labels: ${r.error.issues.map((i) => i.message).join('; ')}` });
      return z.NEVER;
    }
    return r.data;
  });

const ApiUrls = z
  .string({ message: 'HANGAR_API_URL is required: the API URL (or a comma list of them) the agent talks to' })
  .transform((v, ctx) => {
    const urls = v
      .split(',')
      .map((u) => u.trim().replace(/\/+$/, ''))
      .filter(Boolean);
    for (const u of urls) {
      let ok = false;
      try {
        ok = ['http:', 'https:'].includes(new URL(u).protocol);
      } catch {}
      if (!ok) ctx.addIssue({ code: 'custom', message: `not an http(s) URL: ${u}` });
    }
    if (urls.length === 0) ctx.addIssue({ code: 'custom', message: 'no URL given' });
    return urls;
  });

const Env = z.object({
  HANGAR_API_URL: ApiUrls,
  /** Needed on the first start only: traded for credentials kept in the data directory. */
  HANGAR_JOIN_TOKEN: z.string().optional(),
  HANGAR_HOST_NAME: HostName,
  HANGAR_HOST_LABELS: LabelList,
  HANGAR_DRIVER: z.enum(DRIVER_KINDS).default('simulated'),
  HANGAR_DATA_DIR: z.string().default('./.hangar-agent'),
  /** How often the hypervisor is listed and reported: the heartbeat. */
  HANGAR_AGENT_REPORT_INTERVAL_S: z.coerce.number().min(0.1).max(3600).default(10),
  HANGAR_AGENT_CONCURRENCY: z.coerce.number().int().min(1).max(1024).default(16),
  HANGAR_SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).max(600_000).default(10_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type AgentConfig = z.infer<typeof Env> & { driver_settings: unknown };

/** The agent's settings from the environment; a bad value stops the start with a sentence saying which. */
export function loadAgentConfig(env: NodeJS.ProcessEnv = process.env): AgentConfig {
  return readSettings(Env, env);
}
