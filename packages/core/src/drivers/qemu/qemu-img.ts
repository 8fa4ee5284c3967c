import { run } from './exec.js';

/** Disk images through `qemu-img`. */
export class QemuImg {
  constructor(private readonly binary = 'qemu-img') {}

  async create(path: string, size_gb: number, signal?: AbortSignal): Promise<void> {
    await run(this.binary, ['create', '-q', '-f', 'qcow2', path, `${size_gb}G`], { signal });
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
