import { formatBytes } from '../output/units.js';

/** Bytes moved so far (of a total when known), with the rate; a no-op when progress is not shown. */
export interface BytesBar {
  update(done: number, total?: number | null): void;
  stop(): void;
}

const SILENT: BytesBar = { update() {}, stop() {} };

/**
 * A cli-progress bar on stderr, loaded only when drawn. With a total it shows the bar and the
 * percentage; without one (an export, whose size is known only at its end; a download before
 * the server has its length) the bytes and the rate.
 */
export async function startBytesBar(label: string, total: number | null, enabled: boolean): Promise<BytesBar> {
  if (!enabled) return SILENT;
  const { default: progress } = await import('cli-progress');
  const withTotal = `${label} [{bar}] {percentage}% | {done} of {size} | {rate}`;
  const withoutTotal = `${label} {done} | {rate}`;
  let known = total ?? 0;
  const bar = new progress.SingleBar(
    {
      stream: process.stderr,
      hideCursor: true,
      // The default formatter, with the format chosen by whether the total is known yet.
      format: (options, params, payload) =>
        progress.Format.Formatter({ ...options, format: params.total > 0 ? withTotal : withoutTotal }, params, payload),
    },
    progress.Presets.shades_classic,
  );
  const started = Date.now();
  const payload = (done: number) => ({
    done: formatBytes(done),
    size: formatBytes(known),
    rate: `${formatBytes(Math.round(done / Math.max(0.001, (Date.now() - started) / 1000)))}/s`,
  });
  bar.start(known, 0, payload(0));
  return {
    update(done, t) {
      if (t && t !== known) {
        known = t;
        bar.setTotal(t);
      }
      bar.update(known ? Math.min(done, known) : 0, payload(done));
    },
    stop() {
      bar.stop();
    },
  };
}
