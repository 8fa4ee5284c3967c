import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DirectBoot } from '../drivers/qemu/command-line.js';

let skipReason: string | null | undefined;

/**
 * Why the real-QEMU tests cannot run here, or null when they can. Printed once, so a
 * skipped run says why in its output.
 */
export function qemuSkipReason(): string | null {
  if (skipReason !== undefined) return skipReason;
  skipReason = null;
  for (const [bin, pkg] of [
    ['qemu-system-x86_64', 'qemu-system-x86'],
    ['qemu-img', 'qemu-utils'],
  ]) {
    try {
      execFileSync(bin!, ['--version'], { stdio: 'ignore' });
    } catch {
      skipReason = `${bin} is not installed (apt-get install ${pkg}): skipping the real-QEMU tests`;
      break;
    }
  }
  if (skipReason) process.stderr.write(`\n[hangar] ${skipReason}\n`);
  return skipReason;
}

const script = join(dirname(fileURLToPath(import.meta.url)), '../../scripts/build-test-guest.sh');

/** The tiny test guest (built from Debian packages on first use, then cached), as a direct boot. */
export function testGuest(): DirectBoot {
  const dir = execFileSync('bash', [script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
    .trim()
    .split('\n')
    .at(-1)!;
  const kernel = join(dir, 'vmlinuz');
  const initrd = join(dir, 'initramfs.cpio.gz');
  if (!existsSync(kernel) || !existsSync(initrd)) throw new Error(`the test guest build left no kernel/initramfs in ${dir}`);
  return { kernel, initrd, append: 'console=ttyS0 quiet panic=-1' };
}

/** Live (not zombie) QEMU processes whose command line mentions `path`. */
export async function qemuProcessesUnder(path: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8');
      if (!cmdline.startsWith('qemu-system') && !cmdline.includes('/qemu-system')) continue;
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2)[0] === 'Z') continue;
      if (cmdline.includes(path)) found.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return found;
}

/** Waits until `file` contains `text` `count` times. */
export async function waitForText(file: string, text: string, opts: { count?: number; timeout_ms?: number } = {}): Promise<void> {
  const until = Date.now() + (opts.timeout_ms ?? 30_000);
  const count = opts.count ?? 1;
  for (;;) {
    const content = await readFile(file, 'utf8').catch(() => '');
    if (content.split(text).length - 1 >= count) return;
    if (Date.now() > until) throw new Error(`"${text}" did not appear ${count}x in ${file} in time; it holds:\n${content.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
