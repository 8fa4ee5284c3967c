import { setTimeout as sleep } from 'node:timers/promises';
import { eq } from 'drizzle-orm';
import { type DomainSpec, DriverError } from '../drivers/driver.js';
import type { Db } from '../store/database.js';
import { type ImageRow, images, type VmRow } from '../store/schema.js';
import type { LocalImage } from './operation-queue.js';

/** Waits until an image is in the store; a failed or deleted image fails the operation waiting for it. */
export async function readyImage(db: Db, id: string, signal: AbortSignal): Promise<ImageRow> {
  for (;;) {
    const [row] = await db.select().from(images).where(eq(images.id, id));
    if (!row) throw new DriverError('failed', `image ${id} was deleted`);
    if (row.status === 'ready') return row;
    if (row.status === 'error') throw new DriverError('failed', `image ${row.name}: ${row.error ?? 'download failed'}`);
    if (signal.aborted) throw new DriverError('aborted', `waiting for image ${row.name} was cancelled`);
    await sleep(200, undefined, { signal }).catch(() => {});
  }
}

/** The VM's images as the driver needs them (an ISO path and a base disk), each fetched by `image` once ready. */
export async function mediaOf(
  image: (id: string) => Promise<LocalImage>,
  vm: Pick<VmRow, 'image_id' | 'iso_image_id'>,
): Promise<Pick<DomainSpec, 'iso_path' | 'base_image'>> {
  const media: Pick<DomainSpec, 'iso_path' | 'base_image'> = {};
  if (vm.iso_image_id) media.iso_path = (await image(vm.iso_image_id)).path;
  if (vm.image_id && vm.image_id !== vm.iso_image_id) {
    const disk = await image(vm.image_id);
    if (disk.kind === 'disk') media.base_image = { path: disk.path, format: disk.format === 'qcow2' ? 'qcow2' : 'raw' };
  }
  return media;
}
