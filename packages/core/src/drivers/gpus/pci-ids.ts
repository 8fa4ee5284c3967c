import { readFileSync } from 'node:fs';

/**
 * Vendor and device names from the PCI ids database (Debian's `pci.ids` package, or the
 * `hwdata` data): what a GPU is called, never a hand-written table. `HANGAR_PCI_IDS` names
 * another copy of the file. Without one, names are null and GPUs are known by their ids.
 */
export const PCI_IDS_PATHS = ['/usr/share/misc/pci.ids', '/usr/share/hwdata/pci.ids', '/usr/share/pci.ids'];

export interface PciNames {
  vendor: string | null;
  model: string | null;
}

export interface PciIds {
  /** The file the names came from; null when none was found. */
  source: string | null;
  lookup(vendor_id: string, device_id: string): PciNames;
}

/** `0x10de` or `10de` as the database writes it: four lowercase hex digits. */
const hex4 = (id: string) => id.toLowerCase().replace(/^0x/, '');

/**
 * The database's vendors and their devices. The format: a vendor line `vvvv  Name`, its
 * devices `\tdddd  Name`, their subsystems `\t\tssss ssss  Name` (not needed here); `#`
 * comments; and from the first `C cc  Class` line on, device classes (not needed either).
 */
export function parsePciIds(text: string, source: string | null = null): PciIds {
  const vendors = new Map<string, string>();
  const devices = new Map<string, string>();
  let vendor: string | null = null;
  for (const line of text.split('\n')) {
    if (line.startsWith('C ')) break;
    if (line === '' || line.startsWith('#') || line.startsWith('\t\t')) continue;
    const m = /^(\t?)([0-9a-f]{4})\s+(.+?)\s*$/i.exec(line);
    if (!m) continue;
    const id = m[2]!.toLowerCase();
    if (m[1]) {
      if (vendor) devices.set(`${vendor}:${id}`, m[3]!);
    } else {
      vendor = id;
      vendors.set(id, m[3]!);
    }
  }
  return {
    source,
    lookup(vendor_id, device_id) {
      const v = hex4(vendor_id);
      return { vendor: vendors.get(v) ?? null, model: devices.get(`${v}:${hex4(device_id)}`) ?? null };
    },
  };
}

/** Read once per list of places: a test asking for another file (or none) is not given the first one read. */
const loaded = new Map<string, PciIds>();

/** The host's PCI ids database, read once (the first place it is found). */
export function pciIds(paths = process.env.HANGAR_PCI_IDS ? [process.env.HANGAR_PCI_IDS] : PCI_IDS_PATHS): PciIds {
  const key = paths.join('\0');
  let ids = loaded.get(key);
  if (!ids) {
    ids = readFirst(paths);
    loaded.set(key, ids);
  }
  return ids;
}

function readFirst(paths: string[]): PciIds {
  for (const path of paths) {
    try {
      return parsePciIds(readFileSync(path, 'utf8'), path);
    } catch {
      // Not here; the next place.
    }
  }
  return parsePciIds('', null);
}

/** A GPU's vendor and model names. */
export function pciNames(vendor_id: string, device_id: string): PciNames {
  return pciIds().lookup(vendor_id, device_id);
}

/**
 * The memory a model's name states ("GA100 [A100 PCIe 80GB]": 81920 MB), or null: sysfs does
 * not say how much memory a GPU has, but the database's names of data-centre parts usually do.
 */
export function memoryFromName(model: string | null): number | null {
  const m = /(\d{1,4})\s?GB\b/i.exec(model ?? '');
  return m ? Number(m[1]) * 1024 : null;
}
