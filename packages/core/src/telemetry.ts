import type { VmStatus } from './domain/status.js';

/**
 * What the worker, the reconciler and the image downloader tell whoever watches them (the
 * server's Prometheus metrics). Core knows no metrics library: it calls these hooks at the
 * moment something happened (after the transaction that made it true committed), and the
 * process that built the control plane decides what to do with them. Each hook must be cheap
 * and must not throw: it runs on the worker's path.
 */
export interface Telemetry {
  /** An operation ended (the worker, an agent's report, an export, a deadline); `duration_s` from its creation. */
  operationEnded(e: { action: string; result: 'succeeded' | 'failed'; duration_s: number }): void;
  /** An operation was claimed while another worker still held its lease, which had expired (that worker died or hung). */
  leaseTakenOver(e: { action: string }): void;
  /** The reconciler moved a settled VM to what its hypervisor shows. */
  driftCorrected(e: { from: VmStatus; to: VmStatus }): void;
  /** An image download began (again, after a takeover). */
  imageDownloadStarted(): void;
  /** Bytes an image download received since it last said. */
  imageDownloadBytes(bytes: number): void;
  /** An image download ended: `abandoned` when its lease was lost or this process stopped (another process carries on). */
  imageDownloadFinished(e: { result: 'succeeded' | 'failed' | 'abandoned' }): void;
}

/** Hooks that do nothing: what everything uses unless the control plane is given others. */
export const NO_TELEMETRY: Telemetry = {
  operationEnded() {},
  leaseTakenOver() {},
  driftCorrected() {},
  imageDownloadStarted() {},
  imageDownloadBytes() {},
  imageDownloadFinished() {},
};
