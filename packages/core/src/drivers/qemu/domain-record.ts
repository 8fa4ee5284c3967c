import { readFile, rename, writeFile } from 'node:fs/promises';
import type { Network } from '../../domain/vm.js';
import type { GpuAssignment } from '../driver.js';

/** What the driver keeps about a domain, in `domain.json` next to its disk. */
export interface DomainRecord {
  vm_id: string;
  name: string;
  cpu_cores: number;
  memory_mb: number;
  disk_gb: number;
  network: { type: Network['type']; bridge_name: string | null; mac_address: string };
  /** A VNC console on the VM's `vnc.sock`. */
  vnc: boolean;
  /** An ISO image attached as a CD-ROM. */
  iso_path: string | null;
  /** Host GPUs passed through at each start; absent in records written before GPUs. */
  gpus?: GpuAssignment[];
  created_at: string;
}

export async function readRecord(file: string): Promise<DomainRecord | null> {
  try {
    return upgrade(JSON.parse(await readFile(file, 'utf8')) as DomainRecord & { vnc_port?: number | null });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Records written before consoles moved to unix sockets held a TCP port instead of `vnc`. */
function upgrade(r: DomainRecord & { vnc_port?: number | null }): DomainRecord {
  if (r.vnc !== undefined) return r;
  const { vnc_port, ...rest } = r;
  return { ...rest, vnc: vnc_port !== null && vnc_port !== undefined };
}

/** Written whole or not at all: a crash mid-write leaves the previous record. */
export async function writeRecord(file: string, record: DomainRecord): Promise<void> {
  const tmp = `${file}.tmp`;
  await writeFile(tmp, `${JSON.stringify(record, null, 2)}\n`);
  await rename(tmp, file);
}
