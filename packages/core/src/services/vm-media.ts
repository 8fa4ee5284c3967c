import { errors } from '../domain/errors.js';
import { AttachIsoInput } from '../domain/image.js';
import { MutationOptions, type VmActionResult } from '../domain/operation.js';
import type { Scope } from '../domain/project.js';
import type { Db, Tx } from '../store/database.js';
import { beginAction } from './begin-action.js';
import { idempotent } from './idempotency.js';
import { registerImageTx, requireImage } from './images.js';
import { parse, parseId } from './validate.js';
import { requireVm } from './vm-queries.js';

/** How long an operation may wait for an image still downloading. */
export const IMAGE_WAIT_S = 6 * 3600;

/**
 * Which images a new VM uses: `iso_url` registers (or reuses) an ISO download; `image_id`
 * names an image of the project, an ISO for the CD-ROM or a disk image to copy.
 */
export async function vmMedia(
  tx: Tx,
  scope: Scope,
  input: { iso_url?: string; image_id?: string },
): Promise<{ image_id: string | null; iso_image_id: string | null; waits: boolean }> {
  let iso: { id: string; status: string } | null = null;
  let disk: { id: string; status: string } | null = null;
  if (input.iso_url) iso = (await registerImageTx(tx, scope, { url: input.iso_url, kind: 'iso' })).image;
  if (input.image_id) {
    const row = await requireImage(tx, scope, input.image_id);
    if (row.status === 'error') {
      throw errors.validation(`Image ${row.id} cannot be used: ${row.error ?? 'its download failed'}`, [
        { path: 'image_id', message: 'the image is in error' },
      ]);
    }
    if (row.kind === 'iso') {
      if (iso)
        throw errors.validation('Give iso_url or an ISO image_id, not both', [
          { path: 'image_id', message: 'an ISO is already given by iso_url' },
        ]);
      iso = row;
    } else {
      disk = row;
    }
  }
  return {
    image_id: disk?.id ?? iso?.id ?? null,
    iso_image_id: iso?.id ?? null,
    waits: [iso, disk].some((i) => i && i.status !== 'ready'),
  };
}

/** Puts an ISO in a stopped VM's CD-ROM drive (replacing what was there), as an operation. */
export async function attachIso(db: Db, scope: Scope, id: string, raw: unknown, rawOpts: MutationOptions = {}): Promise<VmActionResult> {
  const vmId = parseId(id, 'vm id');
  const input = parse(AttachIsoInput, raw, 'ISO');
  const opts = parse(MutationOptions, rawOpts, 'options');
  return db.transaction((tx) =>
    idempotent(tx, scope, opts.idempotency_key, { action: 'attach_iso', vm_id: vmId, input }, async () => {
      const vm = await requireVm(tx, scope, vmId, true);
      let image: { id: string; kind: string; status: string };
      if (input.iso_url) {
        image = (await registerImageTx(tx, scope, { url: input.iso_url, kind: 'iso' })).image;
      } else {
        image = await requireImage(tx, scope, input.image_id);
        if (image.kind !== 'iso') {
          throw errors.validation(`Image ${image.id} is a disk image, not an ISO`, [{ path: 'image_id', message: 'not an ISO' }]);
        }
        if (image.status === 'error')
          throw errors.validation(`Image ${image.id} is in error`, [{ path: 'image_id', message: 'the image is in error' }]);
      }
      return beginAction(tx, scope, vm, 'update_hardware', {
        input: { iso: { image_id: image.id } },
        expected_version: opts.expected_version,
        extra_deadline_s: image.status === 'ready' ? 0 : IMAGE_WAIT_S,
        actor: scope.actor,
      });
    }),
  );
}

/** Empties a stopped VM's CD-ROM drive; a VM with none answers 400 `No CDROM device found`. */
export async function ejectIso(db: Db, scope: Scope, id: string, rawOpts: MutationOptions = {}): Promise<VmActionResult> {
  const vmId = parseId(id, 'vm id');
  const opts = parse(MutationOptions, rawOpts, 'options');
  return db.transaction((tx) =>
    idempotent(tx, scope, opts.idempotency_key, { action: 'eject_iso', vm_id: vmId }, async () => {
      const vm = await requireVm(tx, scope, vmId, true);
      if (!vm.iso_image_id) {
        throw errors.validation('No CDROM device found', [{ path: 'id', message: 'the VM has no ISO attached' }]);
      }
      return beginAction(tx, scope, vm, 'update_hardware', {
        input: { iso: { image_id: null } },
        expected_version: opts.expected_version,
        actor: scope.actor,
      });
    }),
  );
}
