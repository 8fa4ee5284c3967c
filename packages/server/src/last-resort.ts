import type { Log } from './logger.js';

/** The exit status after an uncaught error (EX_SOFTWARE): not 0, so a supervisor restarts the process. */
export const UNCAUGHT_EXIT_CODE = 70;

/**
 * The last resort: an error thrown where nothing catches it (a dependency's timer or stream
 * callback) leaves the process in a state nobody can vouch for. It is logged with its stack and
 * the process exits at once, non-zero, for its supervisor (systemd, a container's restart
 * policy) to start a fresh one; operations it held are taken over when their leases expire.
 */
export function exitOnUncaught(log: Log): void {
  const die = (what: string) => (err: unknown) => {
    try {
      log.fatal({ err }, `${what}: Hangar exits so that its supervisor starts it again`);
      log.flush();
    } finally {
      process.exit(UNCAUGHT_EXIT_CODE);
    }
  };
  process.on('uncaughtException', die('uncaught exception'));
  process.on('unhandledRejection', die('unhandled promise rejection'));
}
