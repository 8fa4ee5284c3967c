import { copyFile, rename, rm } from 'node:fs/promises';

/** Moves a file a driver takes over (an imported disk); copies when it sits on another filesystem. */
export async function moveFile(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    await copyFile(from, to);
    await rm(from, { force: true });
  }
}
