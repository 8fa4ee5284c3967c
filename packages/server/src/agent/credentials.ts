import { readFile, writeFile } from 'node:fs/promises';
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
  const parsed = Saved.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error(`${join(dataDir, FILE)} is not an agent's credentials; remove it to join again`);
  return parsed.data;
}

export async function saveCredentials(dataDir: string, c: AgentCredentials): Promise<void> {
  await writeFile(join(dataDir, FILE), `${JSON.stringify(c)}\n`, { mode: PRIVATE_FILE_MODE });
}
