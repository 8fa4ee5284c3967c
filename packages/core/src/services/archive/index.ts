export { archiveStream, describeDisks, sha256File } from './export-stream.js';
export { readArchive } from './import-stream.js';
export type { ArchiveRelay, TransferParty } from './relay.js';
export { VmArchives, type VmArchivesOptions, type VmExport } from './vm-archives.js';
