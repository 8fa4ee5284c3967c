/**
 * Whether to draw progress: only on a terminal (stderr, so stdout stays the command's answer)
 * and unless `--no-progress`. A pipe or a CI log gets no spinner frames or redrawn bars. A
 * terminal that reports no width (a pseudo-terminal nobody sized) counts as none: redrawing
 * measures lines by the width, and with 0 the spinner clears lines without end.
 */
export function showProgress(opts: { progress?: boolean }): boolean {
  return opts.progress !== false && process.stderr.isTTY === true && (process.stderr.columns ?? 0) > 0;
}
