import { spawn } from 'node:child_process';
import { open, readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { DriverError } from '../driver.js';
import type { VmLayout } from './layout.js';
import { killHard } from './process.js';
import { QmpClient } from './qmp.js';

/**
 * Starts QEMU in its own session (so it outlives the control plane; this process still reaps
 * it while alive) and waits until its QMP socket answers. A QEMU that exits first fails with
 * the last lines it printed.
 */
export async function launchQemu(
  binary: string,
  args: string[],
  files: VmLayout,
  opts: { timeout_ms: number; signal?: AbortSignal },
): Promise<{ pid: number; qmp: QmpClient }> {
  const log = await open(files.log, 'w');
  const child = spawn(binary, args, { cwd: files.dir, detached: true, stdio: ['ignore', log.fd, log.fd] });
  await log.close();
  child.unref();
  let exit: string | null = null;
  child.once('exit', (code, signal) => (exit = signal ? `killed by ${signal}` : `exit code ${code}`));
  child.once('error', (err) => (exit = err.message));
  const until = Date.now() + opts.timeout_ms;
  for (;;) {
    if (exit) {
      const out = (await readFile(files.log, 'utf8').catch(() => '')).trim();
      throw new DriverError('failed', `QEMU did not start (${exit})${out ? `: ${out.split('\n').slice(-3).join(' ')}` : ''}`);
    }
    if (opts.signal?.aborted || Date.now() > until) {
      killHard(child.pid!);
      throw new DriverError('aborted', opts.signal?.aborted ? 'start was cancelled' : 'QEMU did not open its QMP socket in time');
    }
    const qmp = await QmpClient.connect(files.qmp, 1_000).catch(() => null);
    if (qmp) return { pid: child.pid!, qmp };
    // QEMU opens the socket within ~50 ms of starting; poll finely, it is one stat and a connect.
    await sleep(5);
  }
}
