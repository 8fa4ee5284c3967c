import { createServer } from 'node:net';
import { VNC_BASE_PORT } from './command-line.js';

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/**
 * The lowest VNC port no domain holds and nothing on the host listens on. Callers
 * serialize allocations, so two domains defined at once never get the same port.
 */
export async function allocateVncPort(taken: Set<number>, base = VNC_BASE_PORT, count = 1000): Promise<number> {
  for (let port = base; port < base + count; port++) {
    if (!taken.has(port) && (await bindable(port))) return port;
  }
  throw new Error(`no free VNC port in ${base}-${base + count - 1}`);
}
