import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export type AccelSetting = 'auto' | 'kvm' | 'tcg';
export type Accel = 'kvm' | 'tcg';

export interface AccelChoice {
  accel: Accel;
  /** Why this accelerator was chosen, for the logs and the host's inventory. */
  reason: string;
}

/**
 * Picks KVM only when it really runs guests. /dev/kvm being there is not enough: some
 * sandboxes expose a KVM that cannot emulate QEMU's default CPU model (QEMU warns that
 * the host lacks required features) and a Linux guest then hangs in early boot. So `auto`
 * boots the firmware under KVM for a moment and wants it to reach the boot menu with no
 * such warning.
 */
export async function chooseAccel(setting: AccelSetting, binary: string): Promise<AccelChoice> {
  if (setting !== 'auto') return { accel: setting, reason: `HANGAR_QEMU_ACCEL=${setting}` };
  try {
    await access('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    return { accel: 'tcg', reason: '/dev/kvm is missing or not accessible' };
  }
  const problem = await probeKvm(binary);
  return problem ? { accel: 'tcg', reason: `KVM probe failed: ${problem}` } : { accel: 'kvm', reason: 'KVM probe passed' };
}

/** Returns what is wrong with KVM, or null when a KVM guest ran its firmware cleanly. */
async function probeKvm(binary: string, timeout_ms = 5_000): Promise<string | null> {
  const dir = await mkdtemp(join(tmpdir(), 'hangar-kvm-probe-'));
  const log = join(dir, 'firmware.log');
  let stderr = '';
  const child = spawn(
    binary,
    [
      '-accel',
      'kvm',
      '-nodefaults',
      '-display',
      'none',
      '-m',
      '32',
      '-no-user-config',
      '-chardev',
      `file,id=dbg,path=${log}`,
      '-device',
      'isa-debugcon,iobase=0x402,chardev=dbg',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  let exited = false;
  child.once('exit', () => (exited = true));
  child.once('error', () => (exited = true));
  try {
    const until = Date.now() + timeout_ms;
    while (Date.now() < until && !exited) {
      const text = await readFile(log, 'utf8').catch(() => '');
      // SeaBIOS reports on its debug port; reaching the boot attempt means the vCPU ran.
      if (/No bootable device|Booting from/.test(text)) break;
      await sleep(50);
    }
    const text = await readFile(log, 'utf8').catch(() => '');
    const warning = stderr.split('\n').find((l) => /warning|error/i.test(l));
    if (warning) return warning.replace(/^.*?: /, '').trim();
    if (exited) return `QEMU exited during the probe${stderr ? `: ${stderr.trim()}` : ''}`;
    if (!/No bootable device|Booting from/.test(text)) return 'the firmware made no progress under KVM';
    return null;
  } finally {
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
}
