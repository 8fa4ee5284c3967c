import { XMLParser } from 'fast-xml-parser';
import { z } from 'zod';

/**
 * What Hangar keeps about a domain, as attributes of its `<hangar:vm>` metadata element in the
 * domain XML itself: libvirt stores it with the definition, so it survives Hangar and libvirtd
 * restarts, and `virsh dumpxml` shows it. The rest of the XML is generated from it (a
 * reconfigure rewrites the whole definition from the changed record).
 */
export const DomainRecord = z.object({
  id: z.uuid(),
  name: z.string(),
  cpu_cores: z.coerce.number().int().positive(),
  memory_mb: z.coerce.number().int().positive(),
  disk_gb: z.coerce.number().int().positive(),
  /** The disk volume's format: qcow2, or raw for a VM made from a raw image. */
  disk_format: z.enum(['qcow2', 'raw']).default('qcow2'),
  network: z.enum(['nat', 'bridge']),
  bridge: z.string().optional(),
  mac: z.string().regex(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i),
  vnc: z.enum(['yes', 'no']),
  iso: z.string().optional(),
});
export type DomainRecord = z.infer<typeof DomainRecord>;

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', removeNSPrefix: true });

/**
 * The record in the metadata element libvirt returns, or null where it is not Hangar's
 * (another tool's domain, or one edited by hand past recognition): such domains are left alone.
 */
export function parseRecord(metadataXml: string): DomainRecord | null {
  try {
    const doc = parser.parse(metadataXml) as { vm?: Record<string, unknown> };
    const r = DomainRecord.safeParse(doc.vm);
    return r.success ? r.data : null;
  } catch {
    return null;
  }
}

/** The record as the metadata element's attributes (absent values left out). */
export function recordAttributes(r: DomainRecord): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(r)) if (v !== undefined) out[k] = String(v);
  return out;
}
