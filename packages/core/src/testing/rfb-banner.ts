import { connect } from 'node:net';
import type { ScreenEndpoint } from '../drivers/driver.js';

/**
 * The first line a VNC server sends on a connection to `endpoint` (its ProtocolVersion, e.g.
 * `RFB 003.008\n`); the connection is closed once it is read.
 */
export function readRfbBanner(endpoint: ScreenEndpoint, timeout_ms = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = 'path' in endpoint ? connect({ path: endpoint.path }) : connect({ host: endpoint.host, port: endpoint.port });
    let got = Buffer.alloc(0);
    const done = (err: Error | null, banner?: string) => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(banner!);
    };
    const timer = setTimeout(() => done(new Error(`no RFB banner within ${timeout_ms} ms`)), timeout_ms);
    socket.on('error', (err) => done(err));
    socket.on('data', (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (got.length >= 12) done(null, got.subarray(0, 12).toString('latin1'));
    });
    socket.on('end', () => done(new Error(`the connection ended after ${got.length} bytes, before a banner`)));
  });
}
