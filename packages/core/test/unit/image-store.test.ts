import { mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ImageStore } from '../../src/images/store.js';

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the image store', () => {
  it('removes the partial transfers a dead process left, not those another process is writing', async () => {
    dir = await mkdtemp(join(tmpdir(), 'hangar-store-'));
    const first = new ImageStore(dir);
    await first.init();
    const abandoned = join(first.partialDir, 'a.partial');
    const live = join(first.partialDir, 'b.partial');
    await writeFile(abandoned, 'x');
    await writeFile(live, 'y');
    const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000);
    await utimes(abandoned, twoHoursAgo, twoHoursAgo);
    // A second process sharing the directory starts.
    await new ImageStore(dir).init();
    expect(await readdir(first.partialDir)).toEqual(['b.partial']);
  });
});
