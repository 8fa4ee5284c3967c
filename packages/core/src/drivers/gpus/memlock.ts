import { readFile } from 'node:fs/promises';
import { DriverError } from '../driver.js';

/** What QEMU locks besides guest memory (its own VFIO structures, ROMs). */
export const MEMLOCK_SLACK_MB = 64;

const CAP_IPC_LOCK = 14n;

export interface MemlockSources {
  /** The limits QEMU inherits: this process's (`/proc/self/limits`). */
  limitsPath?: string;
  /** This process's credentials (`/proc/self/status`): with CAP_IPC_LOCK no limit applies. */
  statusPath?: string;
}

async function readOrNull(path: string): Promise<string | null> {
  return readFile(path, 'utf8').catch(() => null);
}

const hasCap = (mask: string | undefined) =>
  mask !== undefined && /^[0-9a-f]{1,32}$/i.test(mask) && ((BigInt(`0x${mask}`) >> CAP_IPC_LOCK) & 1n) === 1n;

/**
 * Whether QEMU will hold CAP_IPC_LOCK, which lifts the limit for VFIO: a root process's
 * children get every capability of the bounding set; anyone else's only the ambient ones.
 */
function qemuMayLockAnyAmount(status: string | null): boolean {
  if (!status) return false;
  const field = (name: string) => new RegExp(`^${name}:\\s*(.+)$`, 'm').exec(status)?.[1]?.trim().split(/\s+/);
  const euid = field('Uid')?.[1];
  return (euid === '0' && hasCap(field('CapBnd')?.[0])) || hasCap(field('CapAmb')?.[0]);
}

/**
 * VFIO pins all of a guest's memory for the GPU's DMA, counted against the locked-memory
 * limit QEMU inherits from Hangar. Too low a limit makes QEMU fail deep in its start with
 * "vfio_dma_map -12"; this says it first, and how to raise it. A limit that cannot be read
 * (no procfs) is left to QEMU to report.
 */
export async function checkLockedMemory(memory_mb: number, sources: MemlockSources = {}): Promise<void> {
  const limitsPath = sources.limitsPath ?? '/proc/self/limits';
  if (qemuMayLockAnyAmount(await readOrNull(sources.statusPath ?? '/proc/self/status'))) return;
  const limits = await readOrNull(limitsPath);
  const soft = limits && /^Max locked memory\s+(\S+)\s+(\S+)/m.exec(limits)?.[1];
  // `unlimited`, or a file not in the kernel's format.
  if (!soft || !/^\d+$/.test(soft)) return;
  const needed_mb = memory_mb + MEMLOCK_SLACK_MB;
  if (BigInt(soft) >= BigInt(needed_mb) * 2n ** 20n) return;
  throw new DriverError(
    'failed',
    `GPU passthrough pins the VM's ${memory_mb} MiB of memory, but the locked-memory limit Hangar passes to QEMU is ${soft} bytes ` +
      `("Max locked memory" in ${limitsPath}): raise it to at least ${needed_mb} MiB or unlimited ` +
      '(LimitMEMLOCK=infinity in the systemd unit, ulimit -l unlimited in a shell, memlock in /etc/security/limits.conf)',
  );
}
