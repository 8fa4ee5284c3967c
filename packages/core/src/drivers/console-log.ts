import { open } from 'node:fs/promises';

/** The end of a domain's console log: what a person reads to see why a guest did not boot. */
export interface ConsoleLog {
  /** The last `max_bytes` of it (UTF-8; a character cut at the start is dropped). */
  text: string;
  /** How long the whole log is. */
  size_bytes: number;
  /** Whether `text` is only its end. */
  truncated: boolean;
}

const empty: ConsoleLog = { text: '', size_bytes: 0, truncated: false };

/** The last `max_bytes` of `bytes`, with a partial UTF-8 character at the cut dropped. */
export function tailOf(bytes: Buffer, size_bytes: number, max_bytes: number): ConsoleLog {
  let start = Math.max(0, bytes.length - max_bytes);
  // Continuation bytes (10xxxxxx) at the cut belong to a character that began before it.
  while (start > 0 && start < bytes.length && (bytes[start]! & 0xc0) === 0x80) start++;
  return { text: bytes.subarray(start).toString('utf8'), size_bytes, truncated: start > 0 || size_bytes > bytes.length };
}

/** The end of a log file; a file not written yet (the guest never started) is an empty log. */
export async function readConsoleTail(path: string, max_bytes: number): Promise<ConsoleLog> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return empty;
    throw err;
  }
  try {
    const { size } = await fh.stat();
    const length = Math.min(size, max_bytes);
    const buf = Buffer.alloc(length);
    const { bytesRead } = await fh.read(buf, 0, length, size - length);
    const tail = tailOf(buf.subarray(0, bytesRead), size, max_bytes);
    return { ...tail, truncated: size > bytesRead || tail.truncated };
  } finally {
    await fh.close();
  }
}
