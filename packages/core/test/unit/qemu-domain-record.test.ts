import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readRecord } from '../../src/drivers/qemu/domain-record.js';

// Records written by earlier versions (a TCP VNC port) still read: a VM that had a console keeps one.
describe('readRecord', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });
  const written = async (record: object) => {
    const dir = await mkdtemp(join(tmpdir(), 'hangar-record-'));
    dirs.push(dir);
    await writeFile(join(dir, 'domain.json'), JSON.stringify(record));
    return readRecord(join(dir, 'domain.json'));
  };
  const base = {
    vm_id: 'x',
    name: 'x',
    cpu_cores: 1,
    memory_mb: 256,
    disk_gb: 1,
    network: { type: 'nat', bridge_name: null, mac_address: '52:54:00:00:00:01' },
    iso_path: null,
    created_at: '2026-01-01T00:00:00.000Z',
  };

  it('reads a port-era record as a console on or off', async () => {
    expect(await written({ ...base, vnc_port: 5901 })).toEqual({ ...base, vnc: true });
    expect(await written({ ...base, vnc_port: null })).toEqual({ ...base, vnc: false });
  });

  it('reads a current record as written', async () => {
    expect(await written({ ...base, vnc: true })).toEqual({ ...base, vnc: true });
    expect(await written({ ...base, vnc: false })).toEqual({ ...base, vnc: false });
  });
});
