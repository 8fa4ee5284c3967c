import { chmod, mkdir } from 'node:fs/promises';

/**
 * Everything Hangar writes is its tenants' (disks, images, consoles, credentials): readable by
 * the user Hangar runs as and nobody else.
 */
export const PRIVATE_FILE_MODE = 0o600;
export const PRIVATE_DIR_MODE = 0o700;

/** Makes `path` (and missing parents) a directory only its owner can enter. */
export async function privateDir(path: string): Promise<string> {
  await mkdir(path, { recursive: true, mode: PRIVATE_DIR_MODE });
  await chmod(path, PRIVATE_DIR_MODE);
  return path;
}
