import { chmod, copyFile, rename, rm } from 'node:fs/promises';
import { PRIVATE_FILE_MODE } from '../files/private.js';

/** Moves a file a driver takes over (an imported disk); copies when it sits on another filesystem. */
export async function moveFile(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    await copyFile(from, to);
    await chmod(to, PRIVATE_FILE_MODE);
    await rm(from, { force: true });
  }
}
