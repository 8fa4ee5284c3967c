import { open } from 'node:fs/promises';
import type { ImageFormat, ImageKind } from '../domain/image.js';

const QCOW2_MAGIC = 0x514649fb; // "QFI\xfb"
/** qcow2 v3 incompatible feature bit: the guest data lives in another (named) file. */
const EXTERNAL_DATA_FILE = 1n << 2n;

/**
 * What a stored or imported image is, from its first bytes. A qcow2 naming another file
 * (a backing file, or an external data file) is refused: QEMU would open that path on the
 * host, so an uploaded image could make a VM read any file the server can.
 */
export async function detectFormat(path: string, kind: ImageKind): Promise<ImageFormat> {
  const fh = await open(path, 'r');
  try {
    const head = Buffer.alloc(104);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    const isQcow2 = bytesRead >= 72 && head.readUInt32BE(0) === QCOW2_MAGIC;
    if (kind === 'iso') {
      if (isQcow2) throw new Error('this is a qcow2 disk image, not an ISO');
      return 'iso';
    }
    if (!isQcow2) return 'raw';
    if (head.readBigUInt64BE(8) !== 0n) throw new Error('qcow2 images with a backing file are refused');
    const version = head.readUInt32BE(4);
    if (version >= 3 && bytesRead >= 80 && (head.readBigUInt64BE(72) & EXTERNAL_DATA_FILE) !== 0n) {
      throw new Error('qcow2 images with an external data file are refused');
    }
    return 'qcow2';
  } finally {
    await fh.close();
  }
}
