import { z } from 'zod';

/** Shared field schemas: each rule on the wire is written once, here. */

export const Uuid = z.uuid();

const UNPAIRED_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Free text a tenant sends that is stored or echoed: PostgreSQL cannot store NUL, and an
 * unpaired UTF-16 surrogate has no UTF-8 form (JSON in PostgreSQL refuses it). Refused here, as
 * input, rather than failing as a database error later.
 */
export const Text = z.string().refine((s) => !s.includes('\u0000') && !UNPAIRED_SURROGATE.test(s), {
  message: 'may not contain NUL characters or unpaired surrogates',
});

/** ISO 8601 with an explicit timezone, as every timestamp on the wire is. */
export const Timestamp = z.iso.datetime({ offset: true });

/** A DNS label: lowercase letters, digits and inner hyphens, 1-63 characters. */
export const VmName = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, {
    message: 'must be a DNS label: lowercase letters, digits and hyphens, starting and ending with a letter or digit',
  });

export const LabelKey = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]([a-z0-9._/-]*[a-z0-9])?$/i, {
    message: 'label keys are letters, digits, ".", "_", "/" and "-", starting and ending with a letter or digit',
  });

export const LabelValue = Text.max(255).regex(/^[^\u0000-\u001f\u007f]*$/, { message: 'label values may not contain control characters' });

const LabelMap = z.record(LabelKey, LabelValue).refine((m) => Object.keys(m).length <= 64, { message: 'at most 64 labels' });

/** Labels are a string map; a bare list of keys (the older shape) is taken as keys with empty values. */
export const Labels = z.union([
  LabelMap,
  z
    .array(LabelKey)
    .max(64)
    .transform((keys) => Object.fromEntries(keys.map((k) => [k, ''])) as Record<string, string>),
]);

export const IpAddress = z.union([z.ipv4(), z.ipv6()]);

export const MacAddress = z
  .string()
  .regex(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i, { message: 'must be a MAC address like 52:54:00:12:34:56' })
  .overwrite((m) => m.toLowerCase());

export const OsType = z.enum(['linux', 'windows', 'other']);
export type OsType = z.infer<typeof OsType>;

export const CpuCores = z.int().min(1).max(256);
export const MemoryMb = z.int().min(128).max(4_194_304);
export const DiskGb = z.int().min(1).max(65_536);
export const OsVersion = Text.max(128);

export const BridgeName = z
  .string()
  .min(1)
  .max(15)
  .regex(/^[a-zA-Z0-9_.-]+$/, { message: 'must be a Linux interface name' });

export const NetworkType = z.enum(['nat', 'bridge']);
