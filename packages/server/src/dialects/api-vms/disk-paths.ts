/**
 * The files of a domain's disks (not its CD-ROMs), read from the domain XML libvirt holds: what
 * the earlier API listed as "Deleted disks". Only what the XML says; nothing is guessed.
 */
export function diskPaths(xml: string): string[] {
  const paths: string[] = [];
  for (const [, attrs, inner] of xml.matchAll(/<disk\b([^>]*)>([\s\S]*?)<\/disk>/g)) {
    if (!/\bdevice\s*=\s*(['"])disk\1/.test(attrs ?? '')) continue;
    const source = /<source\b[^>]*?\b(?:file|dev)\s*=\s*(?:'([^']*)'|"([^"]*)")/.exec(inner ?? '');
    const path = source?.[1] ?? source?.[2];
    if (path) paths.push(unescapeXml(path));
  }
  return paths;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function unescapeXml(s: string): string {
  return s.replace(/&(amp|lt|gt|quot|apos|#(\d+)|#x([0-9a-f]+));/gi, (whole, name: string, dec?: string, hex?: string) => {
    const code = dec ? Number(dec) : hex ? Number.parseInt(hex, 16) : undefined;
    if (code === undefined) return ENTITIES[name.toLowerCase()] ?? whole;
    return code <= 0x10ffff ? String.fromCodePoint(code) : whole;
  });
}

/** Python's repr of a list of strings, as the earlier API's message printed it: `['/a.qcow2']`. */
export function pythonList(items: readonly string[]): string {
  return `[${items.map((s) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`).join(', ')}]`;
}
