import {
  closeSync,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import type { SimDomain } from './hypervisor.js';

/** The snapshot: every domain when the log was last folded in. */
const SNAPSHOT = 'domains.json';
/** The log: one JSON line per change since the snapshot. */
const LOG = 'domains.log';
/** The log is folded into the snapshot once it is this big, or bigger than twice the snapshot. */
const MIN_FOLD_BYTES = 8 * 1024 * 1024;

/** A line of the log: a domain as it now is, or the id of one deleted. */
type Change = { put: SimDomain } | { del: string };

/**
 * Where a simulated host keeps its domains, so they outlive the process as real VMs outlive the
 * control plane: a snapshot and a log of the changes since, in one directory (0700, files 0600).
 *
 * Why a log: a change is one append to a file kept open, written before the call that made it
 * returns (a process killed the moment after still has it). One file per domain, written whole
 * and renamed into place, cost an open, a write and a rename per change: most of a simulated
 * start's time. One file of every domain made each change cost as much as all of them. The log
 * is folded into the snapshot when it outgrows it, so it costs a bounded share of the writes.
 *
 * A crash (or a full disk) mid-append cuts a line short: the next append starts a line of its
 * own, and reading skips the piece. A fold writes what the directory holds (snapshot and log:
 * another hypervisor's changes over the same directory too) to the snapshot, renamed into place,
 * before emptying the log; a crash in between replays a log the snapshot already holds, which
 * changes nothing (each line is a whole domain, or a delete). A host's state directory is its
 * own: two processes over one may still lose a line one appends while the other folds.
 */
export class DomainStore {
  private fd: number | null = null;
  private logBytes = 0;
  /** Whether the log may end in a piece of a line (the next append then starts a new line). */
  private torn = false;
  private snapshotBytes = 0;

  constructor(private readonly dir: string) {}

  /**
   * The domains kept, from the snapshot and the log, and from the layouts before them (a file per
   * domain; one file of all of them beside the directory), which are folded in and removed.
   */
  load(): SimDomain[] {
    const { domains, older, logBytes, snapshotBytes } = readStore(this.dir);
    this.logBytes = logBytes;
    this.snapshotBytes = snapshotBytes;
    if (older.length > 0) {
      this.fold();
      for (const path of older) rmSync(path, { force: true });
    }
    return [...domains.values()];
  }

  put(d: SimDomain): void {
    this.append({ put: d });
  }

  remove(id: string): void {
    this.append({ del: id });
  }

  /** Closes the log (a later change opens it again). */
  close(): void {
    if (this.fd === null) return;
    closeSync(this.fd);
    this.fd = null;
  }

  private append(change: Change): void {
    const fd = this.open();
    const line = Buffer.from(`${this.torn ? '\n' : ''}${JSON.stringify(change)}\n`);
    this.torn = true;
    // A write may take less than the whole line (a disk filling up): the rest, or the error.
    for (let at = 0; at < line.length; ) at += writeSync(fd, line, at);
    this.torn = false;
    this.logBytes += line.length;
    if (this.logBytes > Math.max(MIN_FOLD_BYTES, 2 * this.snapshotBytes)) this.fold();
  }

  private open(): number {
    if (this.fd !== null) return this.fd;
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const fd = openSync(join(this.dir, LOG), 'a+', 0o600);
    // Not cut off here: another writer may be in the middle of that line.
    const { size } = fstatSync(fd);
    const last = Buffer.alloc(1);
    this.torn = size > 0 && readSync(fd, last, 0, 1, size - 1) === 1 && last[0] !== 0x0a;
    this.fd = fd;
    return fd;
  }

  /** Writes every domain the directory holds to the snapshot, then empties the log. */
  private fold(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const text = JSON.stringify([...readStore(this.dir).domains.values()]);
    const snapshot = join(this.dir, SNAPSHOT);
    writeFileSync(`${snapshot}.tmp`, text, { mode: 0o600 });
    renameSync(`${snapshot}.tmp`, snapshot);
    this.snapshotBytes = Buffer.byteLength(text);
    // Appends go to the end of the file, which is now its start.
    ftruncateSync(this.open(), 0);
    this.logBytes = 0;
    this.torn = false;
  }
}

/**
 * The domains a state directory holds, read without changing it (for `DomainStore.load`, and for
 * a test that looks at what a host kept): `older` are the files of the layouts before the log.
 */
export function readStore(dir: string): {
  domains: Map<string, SimDomain>;
  older: string[];
  /** The log's whole lines, in bytes. */
  logBytes: number;
  snapshotBytes: number;
} {
  const domains = new Map<string, SimDomain>();
  const older: string[] = [];
  const read = (path: string): string | null => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return null;
    }
  };
  // One file of all domains beside the directory (the first layout), then one file each.
  const legacy = read(`${dir}.json`);
  if (legacy !== null) {
    for (const d of JSON.parse(legacy) as SimDomain[]) domains.set(d.id, d);
    older.push(`${dir}.json`);
  }
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {}
  for (const name of names) {
    if (name === SNAPSHOT || !name.endsWith('.json')) continue;
    const text = read(join(dir, name));
    try {
      const d = JSON.parse(text ?? '') as SimDomain;
      domains.set(d.id, d);
    } catch {
      // Only ever a `.tmp` was cut short by a crash (each file was renamed into place whole).
    }
    older.push(join(dir, name));
  }
  const snapshot = read(join(dir, SNAPSHOT));
  if (snapshot !== null) for (const d of JSON.parse(snapshot) as SimDomain[]) domains.set(d.id, d);
  let log: Buffer;
  try {
    log = readFileSync(join(dir, LOG));
  } catch {
    log = Buffer.alloc(0);
  }
  let logBytes = 0;
  for (let start = 0, end = log.indexOf(0x0a); end !== -1; start = end + 1, end = log.indexOf(0x0a, start)) {
    logBytes = end + 1;
    let change: Change;
    try {
      change = JSON.parse(log.toString('utf8', start, end)) as Change;
    } catch {
      continue; // a piece of a line cut short by a crash, or empty
    }
    if ('put' in change) domains.set(change.put.id, change.put);
    else domains.delete(change.del);
  }
  // What follows the last newline is a line not yet whole (being written, or cut short).
  return { domains, older, logBytes, snapshotBytes: snapshot === null ? 0 : Buffer.byteLength(snapshot) };
}
