import pino from 'pino';

export type Log = pino.Logger;

/** Where a reader of stdout stalls, what waits for it costs at most this much memory; past it, lines are dropped. */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

/**
 * JSON lines on stdout, written asynchronously: a line is handed to the kernel as soon as the
 * previous write is done, so at idle each line goes out at once, and under load the lines that
 * gather meanwhile go out in one write instead of a write per request (a write costs about as
 * much as a cheap request's own work). What is still buffered is written before the process exits.
 */
export function createLogger(level: pino.LevelWithSilent = 'info'): Log {
  return pino(loggerOptions(level), pino.destination({ dest: 1, sync: false, maxLength: MAX_BUFFERED_BYTES }));
}

/** The options of Hangar's logger (its tests write through them to a destination of their own). */
export function loggerOptions(level: pino.LevelWithSilent = 'info'): pino.LoggerOptions {
  return { level, base: { service: 'hangar' }, timestamp: pino.stdTimeFunctions.isoTime };
}
