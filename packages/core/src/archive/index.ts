export { VmArchives, type VmArchivesOptions, type VmExport } from './service.js';
export { readArchive } from './import-stream.js';
export { archiveStream, describeDisks, sha256File } from './export-stream.js';
