import { XMLParser } from 'fast-xml-parser';
import { z } from 'zod';
import { PciAddress } from '../../domain/gpu.js';

/** A list in an attribute value: its words. */
const words = (v: unknown) => (typeof v === 'string' ? v.split(' ').filter(Boolean) : v);

/** `0000:3b:00.0@1`: a GPU and its NUMA node (the address alone where the node is unknown). */
const gpuEntry = (e: string) => {
  const [address, node] = e.split('@');
  return { address, numa_node: node === undefined ? null : /^\d+$/.test(node) ? Number(node) : node };
};
const GpuAssignments = z.preprocess(
  (v) => (typeof v === 'string' ? (words(v) as string[]).map(gpuEntry) : v),
  z.array(z.object({ address: PciAddress, numa_node: z.int().min(0).nullable() })).min(1),
);

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
  /** The GPUs the scheduler assigned (their NUMA node places the domain's memory and vCPUs). */
  gpus: GpuAssignments.optional(),
  /** Every PCI function passed through: the GPUs and their companions (audio), as found at assignment. */
  hostdevs: z.preprocess(words, z.array(PciAddress).min(1)).optional(),
  /** The host CPUs of the GPUs' NUMA node, where every GPU is on one and the host lists its CPUs. */
  cpuset: z
    .string()
    .regex(/^\d+(-\d+)?(,\d+(-\d+)?)*$/)
    .optional(),
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

/** The record as the metadata element's attributes (absent values left out; lists as words). */
export function recordAttributes(r: DomainRecord): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(r)) if (v !== undefined && k !== 'gpus' && k !== 'hostdevs') out[k] = String(v);
  if (r.gpus) out.gpus = r.gpus.map((g) => (g.numa_node === null ? g.address : `${g.address}@${g.numa_node}`)).join(' ');
  if (r.hostdevs) out.hostdevs = r.hostdevs.join(' ');
  return out;
}
