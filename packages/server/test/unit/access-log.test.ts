import { tracingChannel } from 'node:diagnostics_channel';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { type AccessLine, accessLog } from '../../src/http/access-log.js';
import { createLogger, loggerOptions } from '../../src/logger.js';

/** A destination that keeps what it is given. */
function sink() {
  const lines: string[] = [];
  return { lines, write: (s: string) => void lines.push(s) };
}

const LINE: AccessLine = {
  request_id: 'read-1',
  method: 'GET',
  path: '/api/v1/vms/6c7e3b27-7159-4e0a-9e30-3d44284574cd',
  status: 200,
  duration_ms: 1.3,
  principal: 'admin (key 0b9f3f3e-2d3c-4c51-9d7e-1f2a3b4c5d6e)',
  project_id: '0b9f3f3e-2d3c-4c51-9d7e-1f2a3b4c5d6f',
  procedure: 'vms.get',
};

const untimed = (line: string) => line.replace(/"time":("[^"]*"|\d+)/, '"time":0');

/** What the access log wrote, and what pino itself writes for the same line. */
function both(make: (dest: ReturnType<typeof sink>) => pino.Logger, line: AccessLine = LINE) {
  const ours = sink();
  const theirs = sink();
  accessLog(make(ours))(line);
  make(theirs).info(line, 'request');
  return { ours: ours.lines, theirs: theirs.lines };
}

describe('the access log', () => {
  it("writes the line pino writes, with Hangar's logger options", () => {
    const { ours, theirs } = both((d) => pino(loggerOptions('info'), d));
    expect(ours).toHaveLength(1);
    expect(untimed(ours[0]!)).toBe(untimed(theirs[0]!));
    expect(JSON.parse(ours[0]!)).toMatchObject({ level: 30, service: 'hangar', ...LINE, msg: 'request' });
    expect(ours[0]!.endsWith('}\n')).toBe(true);
  });

  it("writes it with pino's defaults, a child's bindings and bindings set later", () => {
    expect(untimed(both((d) => pino({}, d)).ours[0]!)).toBe(untimed(both((d) => pino({}, d)).theirs[0]!));
    const child = both((d) => pino({ base: { service: 'hangar' } }, d).child({ component: 'api' }));
    expect(untimed(child.ours[0]!)).toBe(untimed(child.theirs[0]!));
    expect(JSON.parse(child.ours[0]!)).toMatchObject({ service: 'hangar', component: 'api' });
    const rebound = both((d) => {
      const log = pino({}, d);
      log.setBindings({ shard: 2 });
      return log;
    });
    expect(JSON.parse(rebound.ours[0]!)).toMatchObject({ shard: 2 });
    expect(untimed(rebound.ours[0]!)).toBe(untimed(rebound.theirs[0]!));
  });

  it('keeps hostile values one JSON line', () => {
    const hostile = { ...LINE, path: '/api/v1/vms/"},"level":60,"x":"\n\u2028\u0000é', principal: 'a\\"b' };
    const { ours, theirs } = both((d) => pino({}, d), hostile);
    expect(ours[0]!.split('\n')).toHaveLength(2);
    expect(JSON.parse(ours[0]!)).toEqual({ ...JSON.parse(theirs[0]!), time: expect.anything() });
    expect(JSON.parse(ours[0]!)).toMatchObject({ level: 30, path: hostile.path });
  });

  it('writes nothing below its level, and follows a level changed later', () => {
    const d = sink();
    const log = pino({ level: 'warn' }, d);
    const write = accessLog(log);
    write(LINE);
    expect(d.lines).toEqual([]);
    log.level = 'info';
    write(LINE);
    expect(d.lines).toHaveLength(1);
    expect(accessLog(createLogger('silent'))).toBeTypeOf('function');
  });

  it('writes the line itself for a plain logger, without pino serializing it', () => {
    const d = sink();
    const log = pino(loggerOptions('info'), d);
    const write = accessLog(log);
    // Made after accessLog: the plain path must not reach them.
    log.info = () => {
      throw new Error('went through pino');
    };
    write(LINE);
    expect(d.lines).toHaveLength(1);
    expect(JSON.parse(d.lines[0]!)).toMatchObject(LINE);
  });

  it('leaves the line to pino while pino is traced', () => {
    const d = sink();
    const log = pino(loggerOptions('info'), d);
    const write = accessLog(log);
    const traced: unknown[] = [];
    const trace = tracingChannel('pino_asJson');
    const handlers = { start: (m: unknown) => void traced.push(m), end() {}, asyncStart() {}, asyncEnd() {}, error() {} };
    trace.subscribe(handlers);
    try {
      write(LINE);
    } finally {
      trace.unsubscribe(handlers);
    }
    expect(traced).toHaveLength(1);
    expect(d.lines).toHaveLength(1);
  });

  it('leaves redaction, serializers, prefixes, nesting and hooks to pino', () => {
    const redacted = both((d) => pino({ redact: ['principal', 'path'] }, d));
    expect(JSON.parse(redacted.ours[0]!)).toMatchObject({ principal: '[Redacted]', path: '[Redacted]' });
    const childRedacted = both((d) => pino({}, d).child({}, { redact: ['principal'] }));
    expect(JSON.parse(childRedacted.ours[0]!)).toMatchObject({ principal: '[Redacted]' });
    const serialized = both((d) => pino({ serializers: { path: () => '[path]' } }, d));
    expect(JSON.parse(serialized.ours[0]!)).toMatchObject({ path: '[path]' });
    const childSerialized = both((d) => pino({}, d).child({}, { serializers: { principal: () => 'someone' } }));
    expect(JSON.parse(childSerialized.ours[0]!)).toMatchObject({ principal: 'someone' });
    const prefixed = both((d) => pino({ msgPrefix: '[api] ' }, d));
    expect(JSON.parse(prefixed.ours[0]!)).toMatchObject({ msg: '[api] request' });
    const nested = both((d) => pino({ nestedKey: 'payload' }, d));
    expect(JSON.parse(nested.ours[0]!)).toMatchObject({ payload: LINE });
    const hooked = both((d) =>
      pino(
        {
          hooks: {
            logMethod(args, method) {
              method.apply(this, [{ ...(args[0] as object), hooked: true }, args[1] as string]);
            },
          },
        },
        d,
      ),
    );
    expect(JSON.parse(hooked.ours[0]!)).toMatchObject({ hooked: true });
    for (const { ours, theirs } of [redacted, childRedacted, serialized, childSerialized, prefixed, nested, hooked]) {
      expect(untimed(ours[0]!)).toBe(untimed(theirs[0]!));
    }
  });

  it('leaves lines that pino shapes further to pino', () => {
    const mixed = both((d) => pino({ mixin: () => ({ region: 'eu' }) }, d));
    expect(JSON.parse(mixed.ours[0]!)).toMatchObject({ region: 'eu', ...LINE });
    const formatted = both((d) => pino({ formatters: { log: (o) => ({ wrapped: o }) } }, d));
    expect(JSON.parse(formatted.ours[0]!)).toMatchObject({ wrapped: LINE });
    const renamed = both((d) => pino({ messageKey: 'message' }, d));
    expect(JSON.parse(renamed.ours[0]!)).toMatchObject({ message: 'request' });
    const levels: number[] = [];
    const routed = pino(
      { level: 'debug' },
      pino.multistream([
        { level: 'info', stream: { write: () => void levels.push(30) } },
        { level: 'error', stream: { write: () => void levels.push(50) } },
      ]),
    );
    accessLog(routed)(LINE);
    expect(levels).toEqual([30]);
  });
});
