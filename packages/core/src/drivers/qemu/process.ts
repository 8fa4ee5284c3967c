import { readFile, rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { diedState } from '../../processes/alive.js';

export async function readPidfile(file: string): Promise<number | null> {
  try {
    const pid = Number.parseInt((await readFile(file, 'utf8')).trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/**
 * Whether `pid` is a live QEMU for this VM. A zombie counts as dead (an init that does not
 * reap leaves them), and a pid reused by another program does not count: QEMU's command
 * line carries the VM's uuid.
 */
export async function isVmProcess(pid: number, vmId: string): Promise<boolean> {
  try {
    if (diedState(await readFile(`/proc/${pid}/stat`, 'utf8'))) return false;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes(vmId);
  } catch {
    return false;
  }
}

/** Polls until the process is gone or the time is up; says whether it is gone. */
export async function waitForExit(pid: number, vmId: string, timeout_ms: number, signal?: AbortSignal): Promise<boolean> {
  const until = Date.now() + timeout_ms;
  for (;;) {
    if (!(await isVmProcess(pid, vmId))) return true;
    if (Date.now() >= until || signal?.aborted) return false;
    await sleep(50);
  }
}

export function killHard(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

export async function removeQuietly(...paths: string[]): Promise<void> {
  await Promise.all(paths.map((p) => rm(p, { force: true })));
}
