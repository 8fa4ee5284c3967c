import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** What `hgr login` saves: where the server is and the key to it. */
export interface SavedConfig {
  url?: string;
  api_key?: string;
}

/** $XDG_CONFIG_HOME/hangar, else ~/.config/hangar (the XDG default). */
export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  // A relative XDG_CONFIG_HOME is invalid by the spec, and ignored as it says.
  const base = env.XDG_CONFIG_HOME?.startsWith('/') ? env.XDG_CONFIG_HOME : join(homedir(), '.config');
  return join(base, 'hangar');
}

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(configDir(env), 'config.json');
}

/** The saved config; empty when there is none yet. A file that is not JSON is an error worth seeing, not an empty config. */
export async function readConfig(env: NodeJS.ProcessEnv = process.env): Promise<SavedConfig> {
  let text: string;
  try {
    text = await readFile(configPath(env), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw err;
  }
  try {
    const parsed = JSON.parse(text) as SavedConfig;
    return {
      url: typeof parsed.url === 'string' ? parsed.url : undefined,
      api_key: typeof parsed.api_key === 'string' ? parsed.api_key : undefined,
    };
  } catch {
    throw new Error(`${configPath(env)} is not valid JSON; fix it or run \`hgr login\` again`);
  }
}

/**
 * Saves the config holding a secret: the directory 0700 and the file 0600, written to a
 * temporary file created 0600 and renamed into place, so the key is never readable by others,
 * not even for a moment, and a crash never leaves half a file.
 */
export async function writeConfig(config: SavedConfig, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const dir = configDir(env);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // mkdir's mode does not apply to a directory that already existed (or passes through the umask).
  await chmod(dir, 0o700);
  const path = configPath(env);
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  await chmod(temp, 0o600);
  await rename(temp, path);
  return path;
}
