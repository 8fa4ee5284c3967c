import { randomUUID } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
import { isHangarError } from '../domain/errors.js';
import { fetchImage } from '../images/fetch-image.js';
import type { ImageStore } from '../images/store.js';
import type { UrlPolicy } from '../images/url-policy.js';
import type { Db } from '../store/database.js';
import { NO_HOST_WORK, type Notifier, notifyChange } from '../store/notifier.js';
import { fromRaw } from '../store/raw-rows.js';
import { type ImageRow, images } from '../store/schema.js';
import { NO_TELEMETRY, type Telemetry } from '../telemetry.js';
import { ClaimLoop } from './claim-loop.js';
import { keepLease } from './lease.js';
import { consoleLogger, type Logger } from './logger.js';

/** Progress below this within the stall timeout counts as none: a trickle must not hold a slot. */
const STALL_BYTES = 64 * 1024;

export interface ImageDownloaderOptions {
  db: Db;
  store: ImageStore;
  notifier?: Notifier;
  id?: string;
  /** Downloads at once. */
  concurrency?: number;
  lease_ms?: number;
  poll_ms?: number;
  max_redirects?: number;
  /** Where image URLs may lead (default: public addresses only). */
  url_policy?: UrlPolicy;
  /** A download that moves less than STALL_BYTES in this long is failed (default 60 s). */
  stall_timeout_ms?: number;
  /** The longest a download may take, however steadily it moves (default 2 h). */
  deadline_ms?: number;
  /** Claims of one download before it is failed. */
  max_attempts?: number;
  logger?: Logger;
  /** Told of downloads begun and ended, and of the bytes they receive. */
  telemetry?: Telemetry;
}

/**
 * Downloads registered images into the store, as durable jobs: a download is claimed with
 * a lease it renews while bytes arrive (with its progress), and one whose process died is
 * claimed again and starts over. A finished download is `ready` with its sha256, or `error`
 * with the reason; no partial file stays behind either way.
 */
export class ImageDownloader {
  readonly id: string;
  private readonly loop: ClaimLoop<ImageRow>;
  private readonly log: Logger;
  private readonly telemetry: Telemetry;

  constructor(private readonly opts: ImageDownloaderOptions) {
    this.id = opts.id ?? `images-${randomUUID().slice(0, 8)}`;
    this.log = opts.logger ?? consoleLogger;
    this.telemetry = opts.telemetry ?? NO_TELEMETRY;
    this.loop = new ClaimLoop({
      claim: async () => {
        const one = await this.claim();
        return one ? [one] : [];
      },
      run: (image, ctl) => this.download(image, ctl.signal),
      concurrency: opts.concurrency ?? 2,
      poll_ms: opts.poll_ms ?? 1_000,
      // Woken by work on no host only (an image registered): a claim on every VM operation
      // queued would be a statement for nothing per operation.
      onWork: opts.notifier
        ? (l) =>
            opts.notifier!.onWork((host) => {
              if (host === NO_HOST_WORK) l();
            })
        : undefined,
      onClaimError: (err) => this.log.error({ err }, 'claiming image downloads failed'),
    });
  }

  start(): void {
    this.loop.start();
  }

  async stop(): Promise<void> {
    if (!this.loop.isRunning) return;
    await this.loop.stop();
    const active = [...this.loop.active.values()];
    for (const a of active) a.ctl.abort();
    await Promise.all(active.map((a) => a.done));
    // Unfinished downloads go to the next process at once.
    await this.opts.db
      .update(images)
      .set({ lease_expires_at: new Date(0), lease_owner: null })
      .where(and(eq(images.lease_owner, this.id), eq(images.status, 'downloading')));
  }

  private get leaseMs(): number {
    return this.opts.lease_ms ?? 30_000;
  }

  /**
   * The next download, from the project with the fewest downloads running (then the oldest):
   * one project's queue does not hold every slot while another project waits.
   */
  async claim(): Promise<ImageRow | null> {
    const rows = await this.opts.db.execute<Record<string, unknown>>(sql`
      UPDATE ${images} SET
        status = 'downloading',
        lease_owner = ${this.id},
        lease_expires_at = now() + ${`${this.leaseMs} milliseconds`}::interval,
        attempts = ${images.attempts} + 1,
        bytes_done = 0,
        updated_at = now()
      WHERE ${images.id} = (
        SELECT id FROM ${images} AS waiting
        WHERE (status = 'pending' OR (status = 'downloading' AND lease_expires_at < now()))
          -- A project at its quota of running downloads waits for one of them to end.
          AND NOT EXISTS (
            SELECT 1 FROM project_quotas AS quota
            WHERE quota.project_id = waiting.project_id AND quota.running_downloads IS NOT NULL
              AND quota.running_downloads <= (
                SELECT count(*) FROM ${images} AS running
                WHERE running.project_id = waiting.project_id AND running.status = 'downloading' AND running.lease_expires_at >= now()))
        ORDER BY (
          SELECT count(*) FROM ${images} AS running
          WHERE running.project_id = waiting.project_id AND running.status = 'downloading' AND running.lease_expires_at >= now()
        ), created_at
        FOR UPDATE SKIP LOCKED
        LIMIT 1)
      RETURNING *`);
    return rows[0] ? fromRaw(images, rows[0]) : null;
  }

  private async download(image: ImageRow, signal: AbortSignal): Promise<void> {
    const { db, store } = this.opts;
    const mine = and(eq(images.id, image.id), eq(images.lease_owner, this.id));
    const lost = new AbortController();
    // Stalled or past its deadline: fails the download (unlike a lost lease or a shutdown).
    const overtime = new AbortController();
    const both = AbortSignal.any([signal, lost.signal, overtime.signal]);
    const stallMs = this.opts.stall_timeout_ms ?? 60_000;
    const deadlineMs = this.opts.deadline_ms ?? 2 * 3600_000;
    const deadline = setTimeout(() => overtime.abort(new Error(`it took longer than ${deadlineMs / 1000} s`)), deadlineMs);
    let mark = { at: Date.now(), bytes: 0 };
    const stall = setInterval(
      () => {
        if (Date.now() - mark.at > stallMs) overtime.abort(new Error(`it stalled: less than ${STALL_BYTES} bytes in ${stallMs / 1000} s`));
      },
      Math.min(1000, Math.max(50, stallMs / 4)),
    );
    let reported = 0;
    let total: number | null = null;
    let lastWrite = 0;
    // Progress and the lease travel together; a lost lease (deleted, taken over) stops the transfer.
    const heartbeat = async (done: number): Promise<boolean> => {
      const rows = await db
        .update(images)
        .set({
          bytes_done: done,
          bytes_total: total,
          lease_expires_at: sql`now() + ${`${this.leaseMs} milliseconds`}::interval`,
          updated_at: new Date(),
        })
        .where(mine)
        .returning({ id: images.id });
      if (rows.length === 0) lost.abort();
      return rows.length > 0;
    };
    const stopRenewing = keepLease({
      lease_ms: this.leaseMs,
      renew: () => heartbeat(reported),
      onLost: () => lost.abort(),
      onError: (err) => this.log.warn({ err, image: image.id }, 'download lease renewal failed'),
    });
    const telemetry = this.telemetry;
    telemetry.imageDownloadStarted();
    let result: 'succeeded' | 'failed' | 'abandoned' = 'abandoned';
    try {
      if ((image.attempts ?? 1) > (this.opts.max_attempts ?? 3)) throw new Error(`gave up after ${this.opts.max_attempts ?? 3} attempts`);
      const fetched = await fetchImage(image.source_url!, {
        max_redirects: this.opts.max_redirects ?? 5,
        policy: this.opts.url_policy,
        signal: both,
      });
      total = fetched.total;
      if (total !== null && total > store.max_bytes) {
        fetched.body.destroy();
        throw new Error(`the image is ${total} bytes, over the limit of ${store.max_bytes}`);
      }
      await heartbeat(0);
      const got = await store.ingest(image.id, fetched.body, {
        kind: image.kind as 'iso' | 'disk',
        expected_sha256: image.expected_sha256,
        signal: both,
        onProgress: (bytes) => {
          if (bytes > reported) telemetry.imageDownloadBytes(bytes - reported);
          reported = bytes;
          if (bytes - mark.bytes >= STALL_BYTES) mark = { at: Date.now(), bytes };
          if (Date.now() - lastWrite > 500) {
            lastWrite = Date.now();
            void heartbeat(bytes).catch(() => {});
          }
        },
      });
      const done = await db
        .update(images)
        .set({
          status: 'ready',
          format: got.format,
          sha256: got.sha256,
          size_bytes: got.size,
          bytes_done: got.size,
          bytes_total: got.size,
          error: null,
          lease_owner: null,
          lease_expires_at: null,
          updated_at: new Date(),
        })
        .where(mine)
        .returning({ id: images.id });
      // Deleted while downloading: the bytes have nowhere to belong.
      if (done.length === 0) await store.remove(image.id);
      else {
        result = 'succeeded';
        await notifyChange(db, { vm_id: image.id, operation_id: null, status: 'ready' });
      }
    } catch (err) {
      if (signal.aborted) return; // stopping: the lease is released for the next process
      if (lost.signal.aborted) return;
      const reason = overtime.signal.aborted
        ? (overtime.signal.reason as Error).message
        : isHangarError(err) || err instanceof Error
          ? err.message
          : String(err);
      this.log.warn({ image: image.id, err: reason }, 'image download failed');
      await db
        .update(images)
        .set({ status: 'error', error: `download failed: ${reason}`, lease_owner: null, lease_expires_at: null, updated_at: new Date() })
        .where(mine);
      result = 'failed';
      await notifyChange(db, { vm_id: image.id, operation_id: null, status: 'error' });
    } finally {
      stopRenewing();
      clearInterval(stall);
      clearTimeout(deadline);
      telemetry.imageDownloadFinished({ result });
    }
  }
}
