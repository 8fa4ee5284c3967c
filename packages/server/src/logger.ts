import pino from 'pino';

export type Log = pino.Logger;

export function createLogger(level: pino.LevelWithSilent = 'info'): Log {
  return pino({ level, base: { service: 'hangar' }, timestamp: pino.stdTimeFunctions.isoTime });
}
