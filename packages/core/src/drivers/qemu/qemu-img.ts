import { run } from './exec.js';

/** Disk images through `qemu-img`. */
export class QemuImg {
  constructor(private readonly binary = 'qemu-img') {}

  async create(path: string, size_gb: number, signal?: AbortSignal): Promise<void> {
    await run(this.binary, ['create', '-q', '-f', 'qcow2', path, `${size_gb}G`], { signal });
  }

  /** A new qcow2 at `to` with the contents of `from`. */
  async convert(from: string, format: 'raw' | 'qcow2', to: string, signal?: AbortSignal): Promise<void> {
    await run(this.binary, ['convert', '-q', '-f', format, '-O', 'qcow2', from, to], { signal, timeout_ms: 3_600_000 });
  }

  async resize(path: string, size_gb: number, signal?: AbortSignal): Promise<void> {
    await run(this.binary, ['resize', '-q', '-f', 'qcow2', path, `${size_gb}G`], { signal });
  }

  async info(path: string): Promise<{ virtual_size: number; format: string; actual_size: number }> {
    const { stdout } = await run(this.binary, ['info', '--output=json', '-U', path]);
    const j = JSON.parse(stdout) as { 'virtual-size': number; format: string; 'actual-size': number };
    return { virtual_size: j['virtual-size'], format: j.format, actual_size: j['actual-size'] };
  }
}
