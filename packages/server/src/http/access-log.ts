import { tracingChannel } from 'node:diagnostics_channel';
import pino from 'pino';
import type { Log } from '../logger.js';

/** What the access log says about one request. */
export interface AccessLine {
  request_id: string;
  method: string;
  path: string;
  status: number;
  duration_ms: number;
  principal: string | null;
  project_id: string | null;
  procedure: string | null;
}

const {
  chindingsSym,
  endSym,
  formattersSym,
  hooksSym,
  lsCacheSym,
  messageKeySym,
  mixinSym,
  needsMetadataGsym,
  nestedKeySym,
  serializersSym,
  streamSym,
  stringifiersSym,
  timeSym,
} = pino.symbols;

// In pino's symbols at run time, though not in its types.
const { msgPrefixSym } = pino.symbols as unknown as { msgPrefixSym: symbol };

/** The line's fields (the compiler holds this to `AccessLine`: a field added there must be added here). */
const FIELDS = Object.keys({
  request_id: true,
  method: true,
  path: true,
  status: true,
  duration_ms: true,
  principal: true,
  project_id: true,
  procedure: true,
} satisfies Record<keyof AccessLine, true>);

/** pino's own trace of each line it serializes: while someone listens, lines go through pino. */
const asJsonTrace = tracingChannel('pino_asJson');

/**
 * Whether the logger writes the access line exactly as this module does: pino's options that
 * change a line (a log formatter, a mixin, redaction, a serializer of one of its fields, a
 * message prefix or key, a nested key, hooks, a stream that routes by level) are all unset.
 */
function writesPlainLines(internals: Record<symbol, unknown>): boolean {
  const stream = internals[streamSym] as Record<symbol, unknown> | undefined;
  const serializers = (internals[serializersSym] ?? {}) as Record<string, unknown>;
  const hooks = (internals[hooksSym] ?? {}) as { logMethod?: unknown; streamWrite?: unknown };
  return (
    !!stream &&
    !stream[needsMetadataGsym] &&
    !(internals[formattersSym] as { log?: unknown } | undefined)?.log &&
    !internals[mixinSym] &&
    Reflect.ownKeys((internals[stringifiersSym] ?? {}) as object).length === 0 &&
    !FIELDS.some((f) => serializers[f]) &&
    !internals[msgPrefixSym] &&
    !internals[nestedKeySym] &&
    !hooks.logMethod &&
    !hooks.streamWrite &&
    internals[messageKeySym] === 'msg'
  );
}

/**
 * The access log: one line per request, at info, as `log.info(line, 'request')` writes it. The
 * line is made by one `JSON.stringify` of its fixed fields and pino's own pieces (level, time,
 * bindings), and handed to the logger's destination: pino's general serializer walks an object
 * key by key, and for a cheap read that cost 7% of the request's CPU (`vms.get` over REST,
 * 195.5 against 181.7 µs). A logger whose lines pino shapes further (see `writesPlainLines`),
 * or whose lines are being traced, gets its lines through pino.
 */
export function accessLog(log: Log): (line: AccessLine) => void {
  const internals = log as unknown as Record<symbol, unknown>;
  const info = log.levels.values.info;
  const levelPart = info === undefined ? undefined : (internals[lsCacheSym] as Record<number, string> | undefined)?.[info];
  const time = internals[timeSym] as (() => string) | undefined;
  const stream = internals[streamSym] as { write(line: string): unknown } | undefined;
  const viaPino = (line: AccessLine) => log.info(line, 'request');
  if (typeof levelPart !== 'string' || typeof time !== 'function' || typeof stream?.write !== 'function' || !writesPlainLines(internals)) {
    return viaPino;
  }
  const end = internals[endSym] as string;
  return (line) => {
    if (!log.isLevelEnabled('info')) return;
    if (asJsonTrace.hasSubscribers !== false) return viaPino(line);
    // The bindings are read each time: `setBindings` changes them.
    const bindings = internals[chindingsSym] as string;
    stream.write(`${levelPart}${time()}${bindings},${JSON.stringify(line).slice(1, -1)},"msg":"request"${end}`);
  };
}
