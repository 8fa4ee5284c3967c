import { XMLParser } from 'fast-xml-parser';
import { z } from 'zod';

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  parseTagValue: false,
  parseAttributeValue: false,
  isArray: (name) => name === 'cell' || name === 'cpu',
});

const Id = z.string().regex(/^\d+$/).transform(Number);
/** The host's NUMA topology in libvirt's capabilities XML (`virConnectGetCapabilities`). */
const Capabilities = z.object({
  capabilities: z.object({
    host: z.object({
      topology: z.object({
        cells: z.object({
          cell: z.array(z.object({ '@id': Id, cpus: z.object({ cpu: z.array(z.object({ '@id': Id })) }).optional() })),
        }),
      }),
    }),
  }),
});

/** `0,1,2,3,8` as `0-3,8`: how libvirt writes a cpuset. */
export function cpusetOf(cpus: number[]): string {
  const sorted = [...new Set(cpus)].sort((a, b) => a - b);
  const ranges: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    ranges.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return ranges.join(',');
}

/**
 * The host CPUs of one NUMA node as a cpuset, or null where the capabilities do not list them
 * (a host without NUMA topology, a node it does not have): the vCPUs are then left where
 * libvirt puts them.
 */
export function numaNodeCpuset(capabilitiesXml: string, node: number): string | null {
  let doc: unknown;
  try {
    doc = parser.parse(capabilitiesXml);
  } catch {
    return null;
  }
  const caps = Capabilities.safeParse(doc);
  if (!caps.success) return null;
  const cell = caps.data.capabilities.host.topology.cells.cell.find((c) => c['@id'] === node);
  const cpus = cell?.cpus?.cpu.map((c) => c['@id']) ?? [];
  return cpus.length > 0 ? cpusetOf(cpus) : null;
}
