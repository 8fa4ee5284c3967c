import { Transform } from 'node:stream';
import { ARCHIVE_FORMAT, ARCHIVE_VERSION, type ArchiveManifest } from '../domain/archive.js';
import { can, DriverError } from '../drivers/driver.js';
import type { ActionDefinition } from './action.js';
import { refOf } from './driver-calls.js';

/**
 * An export of a VM on the API process's own host streams to its HTTP client from that process
 * (`services/archive/vm-archives.ts`); a worker only meets one whose server died, and ends it.
 * On an agent's host, the agent builds the archive and sends it to the API process whose caller
 * waits for it (`input.transfer`).
 */
export const exportAction: ActionDefinition = {
  verb: 'export',
  async perform({ op, vm, driver, signal, transfers }) {
    const transfer = op.input.transfer as string | undefined;
    if (!transfer || !transfers) throw new DriverError('failed', 'the export ended with the server that was streaming it');
    if (!can.archives(driver)) throw new DriverError('failed', `the ${driver.kind} driver cannot export VMs`);
    // The archive writer (tar) is loaded by the first export, not by every start.
    const { archiveStream, describeDisks } = await import('../services/archive/export-stream.js');
    const files = await driver.exportDisks(refOf(vm), { signal });
    try {
      const manifest: ArchiveManifest = {
        format: ARCHIVE_FORMAT,
        version: ARCHIVE_VERSION,
        exported_at: new Date().toISOString(),
        driver: driver.kind,
        vm: op.input.manifest_vm as ArchiveManifest['vm'],
        disks: await describeDisks(files, signal),
      };
      let bytes = 0;
      // Counted as it passes (a 'data' listener would start the flow before the upload reads it).
      const counted = archiveStream(manifest, files, { gzip: op.input.gzip === true }).pipe(
        new Transform({
          transform(chunk: Buffer, _enc, done) {
            bytes += chunk.length;
            done(null, chunk);
          },
        }),
      );
      await transfers.send(transfer, counted);
      return { status: 'stopped', message: `exported ${bytes} bytes` };
    } finally {
      for (const f of files) await f.release?.().catch(() => {});
    }
  },
};
