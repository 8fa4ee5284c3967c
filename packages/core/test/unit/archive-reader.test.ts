import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readArchive } from '../../src/services/archive/import-stream.js';
import { BAD_ARCHIVES, goodArchive } from '../../src/testing/bad-archives.js';

// The archive reader alone (no database): what it refuses, and that it refuses before writing.

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hangar-archive-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const read = (body: Buffer, free?: number) =>
  readArchive(Readable.from([body]), { dir, max_bytes: 2 ** 30, ...(free === undefined ? {} : { free_bytes: async () => free }) });

describe('readArchive', () => {
  for (const bad of BAD_ARCHIVES) {
    it(`refuses ${bad.what}`, async () => {
      await expect(read(await bad.build())).rejects.toMatchObject({ code: 'INVALID_ARCHIVE', message: expect.stringMatching(bad.message) });
    });
  }

  it('reads the well-formed archive', async () => {
    const { manifest, disks } = await read(await goodArchive());
    expect(manifest.vm.name).toBe('crafted');
    expect(disks).toMatchObject([{ name: 'disk0.img', format: 'raw', size: 1024 }]);
  });

  it('refuses disks that do not fit in the free space, before writing any', async () => {
    await expect(read(await goodArchive(), 1000)).rejects.toMatchObject({
      code: 'INSUFFICIENT_CAPACITY',
      message: "The archive's disks need 1024 bytes; the host has 1000 bytes free",
    });
    expect(await readdir(dir)).toEqual([]);
    await expect(read(await goodArchive(), 1024)).resolves.toBeTruthy();
  });
});
