import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { and, eq, inArray, isNull, or, sql } from 'drizzle-orm';
import { errors } from '../domain/errors.js';
import { type Image, type ImageKind, ListImagesQuery, looksLikeIso, RegisterImageInput, UploadImageInput } from '../domain/image.js';
import type { Scope } from '../domain/project.js';
import type { ImageStore } from '../images/store.js';
import type { Db, Tx } from '../store/database.js';
import { toImage } from '../store/mappers.js';
import { notifyWork } from '../store/notifier.js';
import { newestFirst } from '../store/order.js';
import { images, vms } from '../store/schema.js';
import { isUniqueViolation } from './pg-errors.js';
import { enforceQuota } from './quotas.js';
import { parse, parseId } from './validate.js';

const SOURCE_INDEX = 'images_source_once_uq';

function nameFromUrl(url: string): string {
  const segment = new URL(url).pathname.split('/').filter(Boolean).at(-1) ?? '';
  let last: string;
  try {
    last = decodeURIComponent(segment);
  } catch {
    last = segment; // a malformed %-escape: the name keeps it as written
  }
  return last.replace(/[\u0000-\u001f\u007f/]/g, '').slice(0, 255) || new URL(url).hostname;
}

/**
 * Registers an image to download from a URL, inside the caller's transaction. The same URL
 * and checksum in a project is one image: registering it again returns the first one
 * (unless that download failed, then it is tried afresh).
 */
export async function registerImageTx(
  tx: Tx,
  scope: Scope,
  input: { url: string; name?: string; kind?: ImageKind; sha256?: string },
): Promise<{ image: Image; created: boolean }> {
  const same = and(
    eq(images.project_id, scope.project_id),
    eq(images.source_url, input.url),
    sql`coalesce(${images.expected_sha256}, '') = ${input.sha256 ?? ''}`,
    sql`${images.status} <> 'error'`,
  );
  const [existing] = await tx.select().from(images).where(same);
  if (existing) return { image: toImage(existing), created: false };
  await enforceQuota(tx, scope.project_id, { images: 1 });
  const name = input.name ?? nameFromUrl(input.url);
  const [row] = await tx
    .insert(images)
    .values({
      project_id: scope.project_id,
      name,
      kind: input.kind ?? (looksLikeIso(name) ? 'iso' : 'disk'),
      source_url: input.url,
      expected_sha256: input.sha256 ?? null,
    })
    .onConflictDoNothing()
    .returning();
  if (!row) {
    // Registered by a concurrent call a moment ago.
    const [again] = await tx.select().from(images).where(same);
    if (again) return { image: toImage(again), created: false };
    throw errors.internal('could not register the image');
  }
  await notifyWork(tx, null);
  return { image: toImage(row), created: true };
}

export async function registerImage(db: Db, scope: Scope, raw: unknown): Promise<{ image: Image; created: boolean }> {
  const input = parse(RegisterImageInput, raw, 'image');
  try {
    return await db.transaction((tx) => registerImageTx(tx, scope, input));
  } catch (err) {
    if (isUniqueViolation(err, SOURCE_INDEX)) return db.transaction((tx) => registerImageTx(tx, scope, input));
    throw err;
  }
}

export async function requireImage(db: Db | Tx, scope: Scope, id: unknown, lock = false) {
  const imageId = parseId(id, 'image id');
  const q = db
    .select()
    .from(images)
    .where(and(eq(images.id, imageId), eq(images.project_id, scope.project_id)));
  const [row] = lock ? await q.for('update') : await q;
  if (!row) throw errors.notFound('Image', imageId);
  return row;
}

export async function getImage(db: Db, scope: Scope, id: unknown): Promise<Image> {
  return toImage(await requireImage(db, scope, id));
}

export async function listImages(db: Db, scope: Scope, raw: unknown = {}): Promise<{ images: Image[] }> {
  const q = parse(ListImagesQuery, raw ?? {}, 'query');
  const rows = await db
    .select()
    .from(images)
    .where(
      and(
        eq(images.project_id, scope.project_id),
        q.status ? eq(images.status, q.status) : undefined,
        q.kind ? eq(images.kind, q.kind) : undefined,
      ),
    )
    .orderBy(...newestFirst(images.created_at, images.id))
    .limit(1000);
  return { images: rows.map(toImage) };
}

/** Deletes an image no VM uses (in its CD-ROM drive, or being made from it), and its file. */
export async function deleteImage(db: Db, store: ImageStore | undefined, scope: Scope, id: unknown): Promise<Image> {
  const deleted = await db.transaction(async (tx) => {
    const row = await requireImage(tx, scope, id, true);
    const users = await tx
      .select({ id: vms.id, name: vms.name })
      .from(vms)
      .where(
        and(isNull(vms.deleted_at), or(eq(vms.iso_image_id, row.id), and(eq(vms.image_id, row.id), inArray(vms.status, ['provisioning'])))),
      )
      .limit(5);
    if (users.length) {
      throw errors.imageInUse(`Image ${row.id} is in use by VM ${users.map((u) => u.name).join(', ')}; eject or delete it first`, {
        vm_ids: users.map((u) => u.id),
      });
    }
    await tx.delete(images).where(eq(images.id, row.id));
    return row;
  });
  await store?.remove(deleted.id);
  return toImage(deleted);
}

/** Stores an uploaded image from a stream; the row appears only once the bytes are in and checked. */
export async function uploadImage(
  db: Db,
  store: ImageStore | undefined,
  scope: Scope,
  raw: unknown,
  body: AsyncIterable<Uint8Array>,
): Promise<Image> {
  if (!store) throw errors.hostUnavailable('This server has no image store');
  const input = parse(UploadImageInput, raw, 'image');
  // Checked before the bytes are taken in, and again where the row is made.
  await db.transaction((tx) => enforceQuota(tx, scope.project_id, { images: 1 }));
  const id = randomUUID();
  const got = await store.ingest(id, Readable.from(body), { kind: input.kind });
  try {
    const [row] = await db.transaction(async (tx) => {
      await enforceQuota(tx, scope.project_id, { images: 1 });
      return tx
        .insert(images)
        .values({
          id,
          project_id: scope.project_id,
          name: input.name,
          kind: input.kind,
          format: got.format,
          status: 'ready',
          sha256: got.sha256,
          size_bytes: got.size,
          bytes_done: got.size,
          bytes_total: got.size,
        })
        .returning();
    });
    return toImage(row!);
  } catch (err) {
    await store.remove(id);
    throw err;
  }
}
