import { Client } from '@hangar/sdk';
import { readConfig } from './config-file.js';

/** The options every command takes (on the root command). */
export interface GlobalOptions {
  url?: string;
  apiKey?: string;
  json?: boolean;
  output?: 'json' | 'table';
}

export const DEFAULT_URL = 'http://127.0.0.1:8080';

export interface Connection {
  url: string;
  apiKey: string | undefined;
}

/** Flags first, then HANGAR_URL / HANGAR_API_KEY, then what `hgr login` saved. */
export async function resolveConnection(opts: GlobalOptions, env: NodeJS.ProcessEnv = process.env): Promise<Connection> {
  const saved = await readConfig(env);
  return {
    url: opts.url ?? (env.HANGAR_URL || undefined) ?? saved.url ?? DEFAULT_URL,
    apiKey: opts.apiKey ?? (env.HANGAR_API_KEY || undefined) ?? saved.api_key,
  };
}

export function clientFor(conn: Connection): Client {
  // api_key '' rather than undefined: the SDK would otherwise read HANGAR_API_KEY itself,
  // behind the precedence decided above.
  return new Client({ base_url: conn.url, api_key: conn.apiKey ?? '' });
}

/** The client for a command, from its options. */
export async function connect(opts: GlobalOptions): Promise<Client> {
  return clientFor(await resolveConnection(opts));
}
