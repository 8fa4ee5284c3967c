import { chmod, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PRIVATE_FILE_MODE } from '@hangar/core';
import { z } from 'zod';

const Saved = z.object({ host_id: z.uuid(), host_name: z.string(), credential: z.string().startsWith('hga_') });
export type AgentCredentials = z.infer<typeof Saved>;

const FILE = 'agent-credentials.json';

/** The credentials this agent joined with, if it has joined (kept in its data directory, 0600). */
export async function readCredentials(dataDir: string): Promise<AgentCredentials | null> {
  let text: string;
  try {
    text = await readFile(join(dataDir, FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  const parsed = Saved.safeParse(json);
  if (!parsed.success) throw new Error(`${join(dataDir, FILE)} is not an agent's credentials; remove it to join again`);
  return parsed.data;
}

/** Written whole or not at all (a temporary file renamed into place), readable by the agent's user only. */
export async function saveCredentials(dataDir: string, c: AgentCredentials): Promise<void> {
  const tmp = join(dataDir, `${FILE}.${process.pid}.tmp`);
  await writeFile(tmp, `${JSON.stringify(c)}\n`, { mode: PRIVATE_FILE_MODE });
  await chmod(tmp, PRIVATE_FILE_MODE);
  await rename(tmp, join(dataDir, FILE));
}
