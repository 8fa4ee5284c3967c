// The archive writer and reader (export-stream.ts, import-stream.ts) are not exported here:
// VmArchives and the export action import them when first used, so a start never loads tar.
export type { ArchiveRelay, TransferParty } from './relay.js';
export { sha256File } from './sha256-file.js';
export { VmArchives, type VmArchivesOptions, type VmExport } from './vm-archives.js';
