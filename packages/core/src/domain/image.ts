import { z } from 'zod';
import { Text, Timestamp, Uuid } from './fields.js';

export const ImageKind = z.enum(['iso', 'disk']);
export type ImageKind = z.infer<typeof ImageKind>;
export const ImageFormat = z.enum(['iso', 'raw', 'qcow2']);
export type ImageFormat = z.infer<typeof ImageFormat>;
export const ImageStatus = z.enum(['pending', 'downloading', 'ready', 'error']);
export type ImageStatus = z.infer<typeof ImageStatus>;

export const Sha256 = z
  .string()
  .regex(/^[a-f0-9]{64}$/i, { message: 'must be a sha256 digest: 64 hex digits' })
  .overwrite((s) => s.toLowerCase());

export const ImageName = Text.min(1)
  .max(255)
  .regex(/^[^\u0000-\u001f\u007f/]+$/, { message: 'image names may not contain "/" or control characters' });

/** Only http and https: a server must not be talked into reading file:// or other schemes for a caller. */
export const ImageUrl = z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).max(2048);

export const Image = z
  .object({
    id: Uuid,
    project_id: Uuid,
    name: ImageName,
    kind: ImageKind,
    format: ImageFormat.nullable(),
    status: ImageStatus,
    source_url: z.string().nullable(),
    /** The checksum the caller required, if any. */
    expected_sha256: z.string().nullable(),
    /** The checksum of the stored bytes, once they are all in. */
    sha256: z.string().nullable(),
    size_bytes: z.int().nullable(),
    progress: z.object({ bytes_done: z.int(), bytes_total: z.int().nullable() }),
    error: z.string().nullable(),
    created_at: Timestamp,
    updated_at: Timestamp,
  })
  .meta({ id: 'Image' });
export type Image = z.infer<typeof Image>;

export const RegisterImageInput = z.strictObject({
  url: ImageUrl,
  /** Defaults to the last part of the URL's path. */
  name: ImageName.optional(),
  /** Defaults to `iso` for a name ending in .iso, else `disk`. */
  kind: ImageKind.optional(),
  /** The download must have this sha256, or the image ends in `error`. */
  sha256: Sha256.optional(),
});
export type RegisterImageInput = z.input<typeof RegisterImageInput>;

export const UploadImageInput = z.strictObject({ name: ImageName, kind: ImageKind.default('iso') });
export type UploadImageInput = z.input<typeof UploadImageInput>;

export const ListImagesQuery = z.strictObject({
  status: ImageStatus.optional(),
  kind: ImageKind.optional(),
});
export type ListImagesQuery = z.input<typeof ListImagesQuery>;

export const ImageList = z.object({ images: z.array(Image) }).meta({ id: 'ImageList' });
export type ImageList = z.infer<typeof ImageList>;

/** Where an ISO for a CD-ROM drive comes from: an image of the project, or a URL. */
export const IsoSource = z.strictObject({
  image_id: Uuid.optional(),
  /** Downloaded once per URL, and attached when it is in. */
  iso_url: ImageUrl.optional(),
});
export const ONE_ISO_SOURCE = [
  (i: { image_id?: unknown; iso_url?: unknown }) => (i.image_id === undefined) !== (i.iso_url === undefined),
  { message: 'give exactly one of image_id and iso_url' },
] as const;

export const AttachIsoInput = IsoSource.refine(...ONE_ISO_SOURCE);
export type AttachIsoInput = z.input<typeof AttachIsoInput>;

/** Whether an image's name says ISO. */
export const looksLikeIso = (name: string) => /\.iso$/i.test(name);
