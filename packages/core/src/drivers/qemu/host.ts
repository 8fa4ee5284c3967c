import { mkdir, statfs } from 'node:fs/promises';
import { availableParallelism, totalmem } from 'node:os';
import type { Capacity } from '../../domain/host.js';
import { run } from './exec.js';

/** This host's CPUs, memory, and the free disk where VMs live. */
export async function hostCapacity(root: string): Promise<Capacity> {
  await mkdir(root, { recursive: true });
  const fs = await statfs(root);
  return {
    cpus: availableParallelism(),
    memory_mb: Math.floor(totalmem() / 2 ** 20),
    disk_gb: Math.floor((fs.bavail * fs.bsize) / 2 ** 30),
  };
}

/** Why QEMU cannot be used here (a binary missing or broken), or null. */
export async function checkBinaries(qemu: string, qemuImg: string): Promise<string | null> {
  for (const [bin, pkg] of [
    [qemu, 'qemu-system-x86'],
    [qemuImg, 'qemu-utils'],
  ] as const) {
    try {
      await run(bin, ['--version'], { timeout_ms: 10_000 });
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'ENOENT') return `${bin} not found (install the ${pkg} package)`;
      return `${bin} does not work: ${e.message}`;
    }
  }
  return null;
}
